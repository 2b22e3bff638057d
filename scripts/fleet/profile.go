package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// profiler saves the central's heap profiles (served by swc-central serve
// --pprof) in the run's folder, for `go tool pprof`.
type profiler struct {
	addr string // the central's --pprof address
	dir  string
	http *http.Client
}

func newProfiler(addr, dir string) *profiler {
	return &profiler{addr: addr, dir: dir, http: &http.Client{Timeout: 30 * time.Second}}
}

// heap saves the heap profile as heap-<name>.pprof; a failure is returned
// for the caller to log (a profile is a help, never a verdict).
func (p *profiler) heap(ctx context.Context, name string) error {
	if p == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/heap", nil)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	path := filepath.Join(p.dir, "heap-"+fileName(name)+".pprof")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fileName turns a stage ("doors connected and synced") into a file name
// part ("doors-connected-and-synced").
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
