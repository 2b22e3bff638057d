package main

import (
	"fmt"
	"io"
	"time"

	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const cardKeysUsage = `usage:
  swc-central card-keys list [--data DIR]
      the card master key versions kept (never the keys): created, cut-off
  swc-central card-keys rotate [--data DIR] [--old-valid-for 720h]
      make a new current version; doors keep accepting badges of the
      previous version until the cut-off (now + --old-valid-for), so that
      they can be re-keyed at their next station visit meanwhile. A serve
      running on this data folder reads the rotation within seconds: the
      whitelists then carry both versions' door keys. Copy the file to the
      data folder of every other replica (rotating there would make other
      keys).
`

// cardKeysCmd lists or rotates the card master keys of a data folder.
func cardKeysCmd(args []string, stdout, stderr io.Writer, now time.Time) int {
	if len(args) > 0 && cmdline.WantsHelp(args[:1]) {
		fmt.Fprint(stdout, cardKeysUsage)
		return 0
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprint(stderr, cardKeysUsage)
		return 2
	}
	fs := cmdline.NewFlagSet("swc-central card-keys "+args[0], cardKeysUsage, stdout, stderr)
	dir := fs.String("data", "./data", "data folder holding the card master keys (created there if missing)")
	validFor := fs.Duration("old-valid-for", 30*24*time.Hour, "rotate: how long doors still accept the previous version (at least 1h)")
	if code, ok := fs.Parse(args[1:]); !ok {
		return code
	}
	ring, created, err := cardkeys.LoadOrCreate(*dir, now)
	if err != nil {
		fmt.Fprintf(stderr, "swc-central card-keys: %v\n", err)
		return 1
	}
	if created {
		fmt.Fprintf(stdout, "created card master key version %d in %s\n", ring.Current(), *dir)
	}
	if args[0] == "rotate" {
		if *validFor < time.Hour {
			fmt.Fprintf(stderr, "swc-central card-keys rotate: --old-valid-for %v: at least 1h, so that doors and stations can follow\n", *validFor)
			return 2
		}
		v, err := ring.Rotate(now, now.Add(*validFor))
		if err != nil {
			fmt.Fprintf(stderr, "swc-central card-keys rotate: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "card master key version %d is current; version %d is accepted until %s.\n"+
			"A swc-central serve running on %s reads it within seconds (copy %s to the data folder of any other replica): the doors' whitelists then list both versions' door keys, and badges re-keyed at a station open at once, also at doors that are offline meanwhile.\n",
			v, v-1, now.Add(*validFor).UTC().Format(time.RFC3339), *dir, cardkeys.FileName)
	}
	for _, vi := range ring.Versions() {
		state := "current"
		if !vi.Current {
			state = "accepted until " + vi.NotAfter.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "version %d  created %s  %s\n", vi.Version, vi.Created.UTC().Format(time.RFC3339), state)
	}
	return 0
}
