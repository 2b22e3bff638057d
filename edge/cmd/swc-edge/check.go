package main

import (
	"context"
	"fmt"
	"io"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, code := loadConfig("check", args, false, stdout, stderr, nil)
	if cfg == nil {
		return code
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: configuration OK for door %s (reader %s)\n", cfg.Path, cfg.DoorID, cfg.Reader.Driver)
	return 0
}
