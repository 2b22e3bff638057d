// Command swc-central is the cooperative's central service: booking source of
// truth, whitelist compiler, event ingest and hours settlement.
//
//	swc-central serve [--data DIR] [--http ADDR] [--https] [--mqtts ADDR] [--mqtt ADDR] [--mqtt-connect-timeout D] [--mqtt-max-connecting N] [--hosts H,...] [--public-url URL] [--public-mqtt URL] [--broker mqtt(s)://HOST:PORT [--broker-user U] [--broker-password-file F] [--broker-ca F --broker-cert F --broker-key F]] [--db postgres://...] [--share-group G] [--smtp-host H [--smtp-port N] [--smtp-security starttls|tls|none] [--smtp-user U [--smtp-password-file F]] [--smtp-ca F] --mail-from ADDR] [--webhook-allow-insecure] [--pprof ADDR]
//	swc-central key [--data DIR]
//	swc-central broker-cert [--data DIR] --hosts H,... [--out DIR]
//	swc-central staff add --email ADDR --name NAME --role ROLE [--center ID]... [--data DIR | --db postgres://...] [--public-url URL] [--password-file F [--totp-secret BASE32]]
//	swc-central staff code --totp-secret BASE32
//	swc-central version (or --version)
//	swc-central card-keys list|rotate [--data DIR] [--old-valid-for D]
//	swc-central billing dry-run|issue|list|export|payouts|mail --period YYYY-MM [flags] [--data DIR | --db postgres://...]
//	swc-central settle --period YYYY-MM [--format csv|json] [--data DIR | --db postgres://...] [--center ID] [--from-scratch [--rate-cents N] [--grace-minutes N] [--no-show zero|booked] [--default-visit-minutes N]]
//	swc-central door-cert revoke (--door ID | --serial HEX) [--data DIR] [--db postgres://...]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/web"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

// version, commit and date are set at build time by the Makefile with
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...";
// a plain `go build` falls back on Go's build information.
var version, commit, date string

const usageHeader = `usage: swc-central COMMAND [flags]   (flags may come before or after the command's words)
       swc-central COMMAND --help      the command's flags
       swc-central --version`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// commands are swc-central's commands, in the order of the help. A new
// command is a file of its own and one entry here.
func commands(ctx context.Context, stdout, stderr io.Writer) []cmdline.Command {
	return []cmdline.Command{
		{Name: "serve", Synopsis: "[flags]", Summary: "run the central service",
			Run: func(a []string) int { return serve(ctx, a, stdout, stderr) }},
		{Name: "key", Synopsis: "[--data DIR]", Summary: "print the public signing key that doors pin",
			Run: func(a []string) int { return key(a, stdout, stderr) }},
		{Name: "broker-cert", Synopsis: "[--data DIR] --hosts H,... [--out DIR]", Summary: "issue Mosquitto's server certificate and the\ncentral's own client certificate from the CA",
			Run: func(a []string) int { return brokerCert(a, stdout, stderr) }},
		{Name: "settle", Synopsis: "--period YYYY-MM [flags]", Summary: "print a period's settlement (CSV or JSON)",
			Run: func(a []string) int { return settle(ctx, a, stdout, stderr) }},
		{Name: "staff", Synopsis: "add|code [flags]", Summary: "create or invite a staff account; print a TOTP code",
			Run: func(a []string) int { return staff(ctx, a, stdout, stderr) }},
		{Name: "import", Synopsis: "[--dry-run] [--api URL | --data DIR | --db URL] FILE...", Summary: "load centers, places, doors, members, badges and\npasses from JSON or CSV files, all or nothing",
			Run: func(a []string) int { return importCmd(ctx, a, stdout, stderr) }},
		{Name: "card-keys", Synopsis: "list|rotate [--data DIR] [--old-valid-for D]", Summary: "the secure badges' card master key versions;\nrotate makes a new one",
			Run: func(a []string) int { return cardKeysCmd(a, stdout, stderr, time.Now()) }},
		{Name: "billing", Synopsis: "dry-run|issue|list|export|payouts|mail [flags]", Summary: "the month's invoices, their PDF/UBL/CSV files and\nthe centers' payouts (SEPA)",
			Run: func(a []string) int { return billingCmd(ctx, a, stdout, stderr) }},
		{Name: "door-cert", Synopsis: "revoke (--door ID | --serial HEX) [--data DIR] [--db URL]", Summary: "revoke door certificates (crl.pem, the embedded\nbroker, renewals)",
			Run: func(a []string) int { return doorCert(ctx, a, stdout, stderr) }},
		{Name: "version", Summary: "print the version, commit and build date",
			Run: func(a []string) int { return printVersion(a, stdout, stderr) }},
	}
}

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	return cmdline.Dispatch("swc-central", usageHeader, commands(ctx, stdout, stderr), args, stdout, stderr)
}

// usageOf is the help of the command name, from commands.
func usageOf(name string) string {
	for _, c := range commands(context.Background(), io.Discard, io.Discard) {
		if c.Name == name {
			return "usage: swc-central " + strings.TrimSpace(c.Name+" "+c.Synopsis) + "\n\n" + c.Summary
		}
	}
	return "usage: swc-central " + name + " [flags]"
}

func printVersion(args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central version", usageOf("version"), stdout, stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swc-central version: unexpected argument %q\n", fs.Arg(0))
		return cmdline.ExitUsage
	}
	fmt.Fprintln(stdout, "swc-central", cmdline.BuildOf(version, commit, date))
	return 0
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central serve", usageOf("serve"), stdout, stderr)
	var cfg server.Config
	fs.StringVar(&cfg.DataDir, "data", "./data", "data folder: signing key, first admin token, SQLite database")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP API listen address")
	fs.BoolVar(&cfg.HTTPS, "https", false, "serve the API over HTTPS with a certificate from the central's CA (for --hosts); technicians pin the CA with the fingerprint shown with each enrollment token")
	fs.StringVar(&cfg.MQTTSAddr, "mqtts", ":8883", "embedded MQTT broker: mutual-TLS listen address, where doors authenticate with their certificate (empty: none)")
	fs.StringVar(&cfg.MQTTAddr, "mqtt", "", "embedded MQTT broker: listen address where doors authenticate with a per-door secret instead of a certificate (explicit option; empty: none)")
	fs.DurationVar(&cfg.MQTTConnectTimeout, "mqtt-connect-timeout", broker.DefaultConnectTimeout, "embedded MQTT broker: how long a new connection may take to complete its TLS handshake and send CONNECT before it is closed (at most "+broker.MaxConnectTimeout.String()+")")
	fs.IntVar(&cfg.MQTTMaxConnecting, "mqtt-max-connecting", broker.DefaultMaxConnecting, "embedded MQTT broker: at most this many connections per listener that have not sent CONNECT yet; new ones beyond it are closed at once")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IP addresses of this central, on its TLS certificates (default: the host name, localhost, 127.0.0.1, ::1); the first is the one given to doors")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "how technicians reach the API and members the booking site, such as https://central.example.org:8443 (default: taken from each request; members' passkeys need it: its host is their relying party)")
	fs.StringVar(&cfg.PublicMQTT, "public-mqtt", "", "broker address given to doors at enrollment, mqtts://host:port (default: the first --hosts name and the --mqtts port, or --broker when it is mqtts://)")
	fs.DurationVar(&cfg.DoorCertValidity, "door-cert-validity", 0, "lifetime of door certificates, renewed by the doors over MQTT (default 720h)")
	fs.DurationVar(&cfg.ReleaseEvery, "release-every", booking.DefaultReleaseEvery, "how often serve releases room bookings nobody checked in to (the center's release_after_minutes after their start)")
	fs.StringVar(&cfg.BrokerURL, "broker", "", "external broker, mqtt://host:port or mqtts://host:port, instead of the embedded one")
	fs.StringVar(&cfg.DBURL, "db", "", "PostgreSQL URL (postgres://...) instead of SQLite in the data folder")
	fs.StringVar(&cfg.BrokerUser, "broker-user", server.ServiceUser, "with --broker: the central's user name on the broker")
	fs.StringVar(&cfg.BrokerPasswordFile, "broker-password-file", "", "with --broker: file holding the central's broker password")
	fs.StringVar(&cfg.BrokerCA, "broker-ca", "", "with --broker mqtts://: CA certificate (PEM) the broker's certificate is checked against")
	fs.StringVar(&cfg.BrokerCert, "broker-cert", "", "with --broker mqtts://: the central's client certificate (PEM)")
	fs.StringVar(&cfg.BrokerKey, "broker-key", "", "with --broker mqtts://: the key of --broker-cert (PEM)")
	fs.StringVar(&cfg.MQTTServiceSecretFile, "mqtt-service-secret-file", "", "with the embedded broker: file holding the secret of its "+server.ServiceUser+" account (created when missing), for operators' tools")
	fs.StringVar(&cfg.ShareGroup, "share-group", server.DefaultShareGroup, "MQTT shared-subscription group the central replicas split door traffic with")
	fs.Int64Var(&cfg.DefaultRateCents, "rate-cents", 0, "at the first start only: the network's default hourly rate in cents stored in the network settings (default "+strconv.Itoa(settings.DefaultRateCents)+"); afterwards change it with PUT /api/v1/settings, and a different value here is refused")
	fs.BoolVar(&cfg.Alerts.WebhookAllowInsecure, "webhook-allow-insecure", false, "accept http:// webhook URLs and deliveries to loopback, private and other internal addresses (tests and labs only; by default webhooks go over https to public hosts)")
	fs.StringVar(&cfg.Mail.Host, "smtp-host", "", "SMTP relay for the central's e-mail (sign-in codes, booking confirmations, alerts); empty: e-mail disabled")
	fs.IntVar(&cfg.Mail.Port, "smtp-port", 0, "SMTP relay port (default 587, or 465 with --smtp-security tls)")
	smtpSecurity := fs.String("smtp-security", "", "starttls (default: STARTTLS required), tls (TLS from the first byte, port 465) or none (only to a loopback relay)")
	fs.StringVar(&cfg.Mail.Username, "smtp-user", "", "SMTP relay user name (AUTH PLAIN, over TLS); its password is read from --smtp-password-file")
	fs.StringVar(&cfg.Mail.PasswordFile, "smtp-password-file", "", "file holding the SMTP relay password (default with --smtp-user: "+server.SMTPPasswordFile+" in the data folder)")
	fs.StringVar(&cfg.Mail.CAFile, "smtp-ca", "", "CA certificates (PEM) to check the SMTP relay's certificate against (default: the system's)")
	fs.StringVar(&cfg.Mail.From, "mail-from", "", "From address of the central's e-mail, such as \"Smart Work Centers <noreply@example.org>\"")
	fs.Func("trusted-proxies", "comma-separated networks (CIDR) of the reverse proxies in front of serve: from them alone X-Forwarded-For is believed (its rightmost address that is not one of them is the client the sign-in rate limits count); default none: the connection's peer", func(v string) error {
		var err error
		cfg.TrustedProxies, err = web.ParseTrustedProxies(v)
		return err
	})
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", cmdline.LogText, "log format: "+cmdline.LogFormats+" (text under journald loses its time= field:\njournald stamps each line)")
	fs.StringVar(&cfg.PprofAddr, "pprof", "", "serve Go's runtime profiles (net/http/pprof) on this loopback address, such as 127.0.0.1:6060 (empty: none)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swc-central serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	logger, err := cmdline.NewLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "swc-central serve: --log-format, --log-level: %v\n", err)
		return 2
	}
	if *hosts != "" {
		for _, h := range strings.Split(*hosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				cfg.Hosts = append(cfg.Hosts, h)
			}
		}
	}
	cfg.Mail.Security = mail.Security(*smtpSecurity)
	cfg.Logger = logger
	cmdline.RoutePahoLogs(logger) // the ingest's client of an external broker
	cfg.Out = stdout
	if err := cfg.Check(); err != nil {
		fmt.Fprintf(stderr, "swc-central serve: %v\n", err)
		return 2
	}
	if err := server.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "swc-central serve: %v\n", err)
		return 1
	}
	return 0
}

func key(args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central key", usageOf("key"), stdout, stderr)
	dir := fs.String("data", "./data", "data folder holding the signing key (created there if missing)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return cmdline.ExitUsage
	}
	pub, err := server.PublicKey(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "swc-central key: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, pub)
	return 0
}

// brokerCert writes what an operator installing Mosquitto needs: the CA
// certificate, the broker's server certificate and key, and the central's
// own client certificate and key, from the CA in the data folder.
func brokerCert(args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central broker-cert", usageOf("broker-cert"), stdout, stderr)
	dir := fs.String("data", "./data", "data folder holding the CA (created there if missing)")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IP addresses doors and the central use to reach Mosquitto (required)")
	out := fs.String("out", "./mosquitto-certs", "folder to write ca.pem, broker.pem, broker-key.pem, swc-central.pem and swc-central-key.pem into")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return cmdline.ExitUsage
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(stderr, "swc-central broker-cert: --hosts is required: the names and addresses doors use to reach Mosquitto, such as --hosts mqtt.example.org,10.0.0.5")
		return 2
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "swc-central broker-cert: --data: %v\n", err)
		return 1
	}
	ca, err := enroll.LoadOrCreateCA(*dir, server.CAName, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "swc-central broker-cert: %v\n", err)
		return 1
	}
	f, err := ca.WriteBrokerFiles(*out, names, server.ServiceUser, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "swc-central broker-cert: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, `Wrote, from the CA in %s (fingerprint %s):
  %s            the CA: Mosquitto's cafile, and --broker-ca for swc-central serve
  %s        the broker's certificate for %s (certfile), valid until %s
  %s    its key (keyfile; readable by this user only)
  %s     the central's client certificate (CN %s): --broker-cert
  %s its key: --broker-key
  %s           the door certificates' revocation list (crlfile): serve keeps it in its data folder
Install the first three and the list in /etc/mosquitto/swc/ (key readable by the mosquitto user), with
scripts/mosquitto/swc.conf and swc.acl, then run
  swc-central serve --broker mqtts://%s:8883 --public-mqtt mqtts://%s:8883 \
      --broker-ca %s --broker-cert %s --broker-key %s
Run this again before %s to renew them.
`, *dir, ca.Fingerprint(), f.CA, f.BrokerCert, strings.Join(names, ", "), f.NotAfter.Format("2006-01-02"), f.BrokerKey,
		f.ServiceCert, server.ServiceUser, f.ServiceKey, f.CRL, names[0], names[0], f.CA, f.ServiceCert, f.ServiceKey, f.NotAfter.Add(-30*24*time.Hour).Format("2006-01-02"))
	return 0
}
