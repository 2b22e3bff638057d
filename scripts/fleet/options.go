package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Profiles: when in the tap phase the taps fall.
const (
	profileRush   = "rush"   // morning rush: most taps in the first third
	profileLunch  = "lunch"  // two peaks: arrivals, then back from lunch
	profileSteady = "steady" // evenly spread
)

// Faults.
const (
	faultBrokerRestart  = "broker-restart"  // the broker stops cleanly and starts again (embedded: the central, SIGTERM)
	faultCentralRestart = "central-restart" // the central is killed (SIGKILL) and started again
	faultLinkCuts       = "link-cuts"       // doors lose their link for a few seconds, at random
)

// Brokers.
const (
	brokerEmbedded  = "embedded"
	brokerMosquitto = "mosquitto"
)

// options are the fleet's flags.
type options struct {
	doors       int
	centers     int
	members     int
	badges      int // badges the central holds; 0: one per member (see seedPlan)
	tapsPerDoor int
	profile     string
	duration    time.Duration
	faults      []string
	broker      string
	mosquitto   string        // the mosquitto binary
	within      time.Duration // the target after a restart; 0: none
	timeout     time.Duration // how long to wait for delivery and crediting after the last tap
	json        bool
	keep        bool
	seed        uint64
	shards      int // processes the doors run in; 0: as the open-file limit requires
	seedVia     string
	pprof       bool   // the central serves its profiles; heap profiles are saved in the run's folder
	memLimit    string // GOMEMLIMIT of the central ("": the runtime's default)
}

func defaultOptions() options {
	return options{doors: 100, centers: 8, members: 2000, tapsPerDoor: 20, profile: profileRush, duration: 30 * time.Second,
		broker: brokerEmbedded, seedVia: seedImport, within: 60 * time.Second, timeout: 3 * time.Minute, mosquitto: os.Getenv("SWC_TEST_MOSQUITTO")}
}

const usageText = `usage: go run ./scripts/fleet [flags]

swc-fleet runs N simulated doors in one process against a central service it
starts (swc-central serve, built from this repository, with its embedded
broker or a Mosquitto broker), taps badges at them by a profile, injects
faults in the middle of the tap phase, and verifies against the central that
every event was stored exactly once and credited. It prints the figures
(one JSON object on stdout with --json) and exits 1 when a check fails.

Flags:
`

// parseOptions parses and checks the flags.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("swc-fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.doors, "doors", o.doors, "simulated doors")
	fs.IntVar(&o.centers, "centers", o.centers, "centers the doors are spread over")
	fs.IntVar(&o.members, "members", o.members, "members, each with a badge and a booking; some nomadic with a pass")
	fs.IntVar(&o.badges, "badges", 0, "badges the central holds in all (0: one per member); above --members, the rest belong to members with neither booking nor pass, on no door's list")
	fs.IntVar(&o.tapsPerDoor, "taps-per-door", o.tapsPerDoor, "badge taps at each door during the tap phase")
	fs.StringVar(&o.profile, "profile", o.profile, "when the taps fall: rush, lunch or steady")
	fs.DurationVar(&o.duration, "duration", o.duration, "length of the tap phase; faults strike in its middle")
	faults := fs.String("faults", "", "comma-separated: broker-restart, central-restart, link-cuts (empty: none)")
	fs.StringVar(&o.broker, "broker", o.broker, "embedded (the central's own broker) or mosquitto")
	fs.StringVar(&o.mosquitto, "mosquitto-bin", o.mosquitto, "with --broker mosquitto: the mosquitto binary (default $SWC_TEST_MOSQUITTO, else /usr/sbin/mosquitto)")
	fs.DurationVar(&o.within, "within", o.within, "after a restart, every event must be stored and credited within this time (0: no target)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "how long to wait, after the last tap, for delivery and crediting before failing")
	fs.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (databases, logs) and print where it is")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random taps and link cuts")
	fs.IntVar(&o.shards, "processes", 0, "processes the doors run in (0: this one, or more when the open-file limit requires)")
	fs.BoolVar(&o.pprof, "pprof", false, "start the central with --pprof and save its heap profiles in the run's folder (heap-peak.pprof at the highest resident memory, heap-<stage>.pprof at each stage); use with --keep")
	fs.StringVar(&o.memLimit, "central-memory-limit", "", "the central's soft memory limit, as GOMEMLIMIT (e.g. 800MiB; empty: none), as scripts/systemd/swc-central.default sets it")
	fs.StringVar(&o.seedVia, "seed-via", o.seedVia, "how the network is created: import (POST /import, a few requests) or api (one request per object, as before the bulk import)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(o.faults, f) {
			o.faults = append(o.faults, f)
		}
	}
	if o.broker == brokerMosquitto && o.mosquitto == "" {
		o.mosquitto = "/usr/sbin/mosquitto"
	}
	return o, o.check()
}

// maxBadges bounds --badges, as --members is bounded.
const maxBadges = 1000000

// memLimitForm is GOMEMLIMIT's form: bytes, or a number with a binary unit.
var memLimitForm = regexp.MustCompile(`^[0-9]+(B|KiB|MiB|GiB|TiB)?$`)

// check validates the options with errors that name the flag.
func (o *options) check() error {
	var errs []error
	if o.doors < 1 || o.doors > 100000 {
		errs = append(errs, fmt.Errorf("--doors %d: want 1 to 100000", o.doors))
	}
	if o.centers < 1 || o.centers > 1000 {
		errs = append(errs, fmt.Errorf("--centers %d: want 1 to 1000", o.centers))
	}
	if o.members < 1 || o.members > 1000000 {
		errs = append(errs, fmt.Errorf("--members %d: want 1 to 1000000", o.members))
	}
	if o.badges != 0 && (o.badges < o.members || o.badges > maxBadges) {
		errs = append(errs, fmt.Errorf("--badges %d: want 0 (one badge per member) or from --members (%d) to %d", o.badges, o.members, maxBadges))
	}
	if o.tapsPerDoor < 0 || o.tapsPerDoor > 100000 {
		errs = append(errs, fmt.Errorf("--taps-per-door %d: want 0 to 100000", o.tapsPerDoor))
	}
	if o.memLimit != "" && !memLimitForm.MatchString(o.memLimit) {
		errs = append(errs, fmt.Errorf("--central-memory-limit %q: want a size such as 800MiB or 1GiB (GOMEMLIMIT's form)", o.memLimit))
	}
	if o.seedVia != seedImport && o.seedVia != seedAPI {
		errs = append(errs, fmt.Errorf("--seed-via %q: want import or api", o.seedVia))
	}
	if !slices.Contains([]string{profileRush, profileLunch, profileSteady}, o.profile) {
		errs = append(errs, fmt.Errorf("--profile %q: want rush, lunch or steady", o.profile))
	}
	if o.duration < time.Second || o.duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--duration %v: want 1s to 24h", o.duration))
	}
	for _, f := range o.faults {
		if !slices.Contains([]string{faultBrokerRestart, faultCentralRestart, faultLinkCuts}, f) {
			errs = append(errs, fmt.Errorf("--faults: %q: want broker-restart, central-restart or link-cuts", f))
		}
	}
	switch o.broker {
	case brokerEmbedded:
	case brokerMosquitto:
		if st, err := os.Stat(o.mosquitto); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("--mosquitto-bin %q: no such program (install mosquitto or set SWC_TEST_MOSQUITTO)", o.mosquitto))
		}
	default:
		errs = append(errs, fmt.Errorf("--broker %q: want embedded or mosquitto", o.broker))
	}
	if o.shards < 0 || o.shards > 64 {
		errs = append(errs, fmt.Errorf("--processes %d: want 0 to 64", o.shards))
	}
	if o.within < 0 {
		errs = append(errs, fmt.Errorf("--within %v: negative", o.within))
	}
	if o.timeout < time.Second {
		errs = append(errs, fmt.Errorf("--timeout %v: want at least 1s", o.timeout))
	}
	return errors.Join(errs...)
}

// totalBadges is how many badges the central holds: --badges, or one per
// member.
func (o *options) totalBadges() int { return max(o.badges, o.members) }

func (o *options) has(fault string) bool { return slices.Contains(o.faults, fault) }

// tapTimes draws n tap offsets in [0, d) by the profile, sorted.
func tapTimes(r *rand.Rand, profile string, n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		var x float64 // fraction of the phase
		switch profile {
		case profileRush:
			// Seven taps in ten in a peak early on, the rest spread.
			if r.Float64() < 0.7 {
				x = 0.15 + 0.07*r.NormFloat64()
			} else {
				x = r.Float64()
			}
		case profileLunch:
			switch p := r.Float64(); {
			case p < 0.4:
				x = 0.2 + 0.06*r.NormFloat64()
			case p < 0.8:
				x = 0.6 + 0.06*r.NormFloat64()
			default:
				x = r.Float64()
			}
		default:
			x = r.Float64()
		}
		x = math.Min(math.Max(x, 0), 0.999)
		out[i] = time.Duration(x * float64(d))
	}
	slices.Sort(out)
	return out
}
