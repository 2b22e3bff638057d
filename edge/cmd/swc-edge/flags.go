package main

import (
	"flag"
	"io"
)

// flags is a flag set that reports errors on stderr and never exits.
type flags struct{ *flag.FlagSet }

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet("swc-edge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return flags{fs}
}

func (f flags) parse(args []string) bool { return f.Parse(args) == nil }
