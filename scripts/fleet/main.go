// Command swc-fleet is the fleet simulator: N door agents in one process,
// each a real edge agent with its own bbolt store, simulated reader and
// relay, and MQTT link, against a central service (swc-central serve) it
// builds and starts, with the embedded broker or Mosquitto. It taps badges by
// a profile (morning rush, lunch, steady), injects faults in the middle of
// the tap phase (broker restart, central restart, random link cuts), then
// verifies against the central that every event was stored exactly once and
// credited, and prints the figures.
//
//	go run ./scripts/fleet --doors 1000 --faults broker-restart [--json]
//
// When one process may not hold the doors' open files (RLIMIT_NOFILE), the
// doors are split over worker processes: the same program started as
// `swc-fleet worker` by the fleet itself (see shard.go), not by people.
//
// Exit status: 0 when every check passed, 1 when one failed (the figures are
// still printed, with --json in the "error" field), 2 for bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(cli(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "worker" {
		// A shard of a fleet started by another swc-fleet: the job and the
		// requests on stdin, the replies on stdout.
		if err := worker(ctx, os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "swc-fleet worker: %v\n", err)
			return 1
		}
		return 0
	}
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "swc-fleet: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, notes, err := run(ctx, o, log)
	if o.keep {
		fmt.Fprintf(stderr, "swc-fleet: kept %s (central.log, doors.log, the databases)\n", notes.dir)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		if encErr := enc.Encode(res); encErr != nil {
			fmt.Fprintf(stderr, "swc-fleet: %v\n", encErr)
			return 1
		}
		printHuman(stderr, res, notes)
	} else {
		printHuman(stdout, res, notes)
	}
	if err != nil {
		return 1
	}
	return 0
}
