package main

import (
	"io"

	"github.com/smartworkcenters/swc/shared/cmdline"
)

// flags is a command's flag set: flags before or after its words, -h on
// stdout, errors on stderr, never an exit.
type flags = *cmdline.FlagSet

// defaultConfig is the configuration file the commands read by default.
const defaultConfig = "/etc/swc-edge/swc-edge.toml"

func newFlags(name string, stdout, stderr io.Writer) flags {
	return cmdline.NewFlagSet("swc-edge "+name, usageOf(name), stdout, stderr)
}

// noArgs refuses positional words after a command that takes none.
func noArgs(fs flags, stderr io.Writer) (int, bool) {
	if fs.NArg() > 0 {
		return exitErr(stderr, cmdline.ExitUsage, "%s: unexpected argument %q (see %s --help)", fs.Name()[len("swc-edge "):], fs.Arg(0), fs.Name()), false
	}
	return 0, true
}
