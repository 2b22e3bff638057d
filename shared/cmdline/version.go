package cmdline

import (
	"fmt"
	"runtime/debug"
)

// Build is what a binary says about itself: its version, the commit it was
// built from and when.
type Build struct {
	Version string
	Commit  string
	Date    string
}

// BuildOf completes what the linker set (-ldflags "-X main.version=...
// -X main.commit=... -X main.date=...", as the Makefile does) with Go's
// build information: the module version, or "devel" for a plain `go build`
// in a work tree, and the VCS revision and commit time Go records. What
// neither knows is "unknown".
func BuildOf(version, commit, date string) Build {
	return buildOf(version, commit, date, debug.ReadBuildInfo)
}

func buildOf(version, commit, date string, read func() (*debug.BuildInfo, bool)) Build {
	b := Build{Version: version, Commit: commit, Date: date}
	if info, ok := read(); ok {
		if b.Version == "" {
			if v := info.Main.Version; v != "" && v != "(devel)" {
				b.Version = v
			}
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// String is the version line: "0.1.0 (commit 1a2b3c4, built 2026-12-07T05:00:00Z)".
func (b Build) String() string {
	return fmt.Sprintf("%s (commit %s, built %s)", b.Version, b.Commit, b.Date)
}
