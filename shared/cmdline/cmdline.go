// Package cmdline holds the command-line conventions swc-edge and
// swc-central share: flags accepted before and after positional words,
// -h/--help printed on stdout with exit status 0, the version line
// (version, commit and build date, from the linker or from Go's build
// information) and the log handler chosen by --log-format.
package cmdline

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses shared by the commands.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// FlagSet is a flag.FlagSet whose Parse takes flags anywhere among the
// positional words, prints help on stdout and errors on stderr, and never
// exits the program.
type FlagSet struct {
	*flag.FlagSet
	// Usage is printed above the flags' defaults by -h and after a usage
	// error, such as "usage: swc-edge check [--config FILE]\n\n...".
	Usage  string
	stdout io.Writer
	stderr io.Writer
}

// NewFlagSet returns an empty flag set for the command name ("swc-edge check").
func NewFlagSet(name, usage string, stdout, stderr io.Writer) *FlagSet {
	f := &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), Usage: usage, stdout: stdout, stderr: stderr}
	f.FlagSet.Usage = func() { f.PrintUsage(f.Output()) }
	return f
}

// PrintUsage writes the usage text and the flags' defaults to w.
func (f *FlagSet) PrintUsage(w io.Writer) {
	if f.Usage != "" {
		fmt.Fprint(w, strings.TrimRight(f.Usage, "\n")+"\n")
	} else {
		fmt.Fprintf(w, "usage: %s [flags]\n", f.Name())
	}
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	f.SetOutput(w)
	f.PrintDefaults()
}

// Parse parses args, flags before, between and after the positional words
// (a lone "--" ends the flags: what follows is positional). It returns
// false with the exit status when the command must stop: ExitOK after
// -h/--help anywhere before "--", even where a flag's value was expected
// (usage printed on stdout), ExitUsage after a bad flag (error and usage
// on stderr). The positional words are in Args().
func (f *FlagSet) Parse(args []string) (int, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if WantsHelp([]string{a}) && a != "help" {
			f.PrintUsage(f.stdout)
			return ExitOK, false
		}
	}
	var errOut bytes.Buffer
	f.SetOutput(&errOut)
	var positional []string
	for {
		err := f.FlagSet.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.PrintUsage(f.stdout)
			return ExitOK, false
		}
		if err != nil {
			_, _ = f.stderr.Write(errOut.Bytes())
			return ExitUsage, false
		}
		rest := f.FlagSet.Args()
		consumed := args[:len(args)-len(rest)]
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" || len(rest) == 0 {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Args() is the positional words: parse them again after "--" so that
	// the embedded flag set holds them.
	_ = f.FlagSet.Parse(append([]string{"--"}, positional...))
	f.SetOutput(f.stderr)
	return ExitOK, true
}

// WantsHelp reports whether the first word asks for help: -h, -help,
// --help or help, for commands that dispatch to subcommands.
func WantsHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help")
}

// Command is one entry of a program's (or a command's) list of
// subcommands: its name, its one-line synopsis and what it does.
type Command struct {
	Name     string
	Synopsis string // the arguments after the name, such as "--config FILE"
	Summary  string
	Run      func(args []string) int
}

// Dispatch runs the command named by args[0] among cmds. With no word or
// with -h/--help/help it prints the usage and the list of commands (on
// stdout and exit 0 when asked for, on stderr and exit 2 when missing); an
// unknown word prints an error and the list on stderr, exit 2.
func Dispatch(prog, header string, cmds []Command, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		PrintCommands(stderr, header, cmds)
		return ExitUsage
	case WantsHelp(args):
		PrintCommands(stdout, header, cmds)
		return ExitOK
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(args[1:])
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	PrintCommands(stderr, header, cmds)
	return ExitUsage
}

// PrintCommands writes header and one entry per command.
func PrintCommands(w io.Writer, header string, cmds []Command) {
	fmt.Fprint(w, strings.TrimRight(header, "\n")+"\n\ncommands:\n")
	for _, c := range cmds {
		head := "  " + strings.TrimSpace(c.Name+" "+c.Synopsis)
		summary := strings.ReplaceAll(c.Summary, "\n", "\n"+strings.Repeat(" ", 38))
		if len(head) > 36 {
			fmt.Fprintf(w, "%s\n%-38s%s\n", head, "", summary)
			continue
		}
		fmt.Fprintf(w, "%-38s%s\n", head, summary)
	}
}
