// Command swc-central is the cooperative's central service: booking source of
// truth, whitelist compiler, event ingest and hours settlement.
//
//	swc-central serve [--data DIR] [--http ADDR] [--mqtt ADDR] [--broker mqtt(s)://HOST:PORT [--broker-user U] [--broker-password-file F] [--broker-ca F --broker-cert F --broker-key F]] [--db postgres://...] [--share-group G]
//	swc-central key [--data DIR]
//	swc-central settle --period YYYY-MM [--format csv|json] [--data DIR | --db postgres://...] [--center ID] [--from-scratch] [--default-rate-cents N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/smartworkcenters/swc/central/crediting"
	"github.com/smartworkcenters/swc/central/server"
)

const usage = `usage:
  swc-central serve [flags]    run the central service
  swc-central key [--data DIR] print the public signing key that doors pin
  swc-central settle --period YYYY-MM [flags]
                               print a period's settlement (CSV or JSON)

Run 'swc-central serve -h' or 'swc-central settle -h' for their flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "key":
		return key(args[1:], stdout, stderr)
	case "settle":
		return settle(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "swc-central: unknown command %q\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	fs.StringVar(&cfg.DataDir, "data", "./data", "data folder: signing key, first admin token, SQLite database")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&cfg.MQTTAddr, "mqtt", ":1883", "embedded MQTT broker listen address")
	fs.StringVar(&cfg.BrokerURL, "broker", "", "external broker, mqtt://host:port or mqtts://host:port, instead of the embedded one")
	fs.StringVar(&cfg.DBURL, "db", "", "PostgreSQL URL (postgres://...) instead of SQLite in the data folder")
	fs.StringVar(&cfg.BrokerUser, "broker-user", server.ServiceUser, "with --broker: the central's user name on the broker")
	fs.StringVar(&cfg.BrokerPasswordFile, "broker-password-file", "", "with --broker: file holding the central's broker password")
	fs.StringVar(&cfg.BrokerCA, "broker-ca", "", "with --broker mqtts://: CA certificate (PEM) the broker's certificate is checked against")
	fs.StringVar(&cfg.BrokerCert, "broker-cert", "", "with --broker mqtts://: the central's client certificate (PEM)")
	fs.StringVar(&cfg.BrokerKey, "broker-key", "", "with --broker mqtts://: the key of --broker-cert (PEM)")
	fs.StringVar(&cfg.ShareGroup, "share-group", server.DefaultShareGroup, "MQTT shared-subscription group the central replicas split door traffic with")
	fs.Int64Var(&cfg.DefaultRateCents, "default-rate-cents", crediting.DefaultRateCents, "the network's hourly rate in cents, for centers without a rate of their own")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swc-central serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "swc-central serve: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
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
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "./data", "data folder holding the signing key (created there if missing)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	pub, err := server.PublicKey(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "swc-central key: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, pub)
	return 0
}
