package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogFormats: serve --log-format json writes one JSON object a line;
// journal writes text without time= (journald stamps each line), its
// priority in front.
func TestLogFormats(t *testing.T) {
	t.Run("journal", func(t *testing.T) {
		_, _, log, stop := serveProcessLog(t, filepath.Join(t.TempDir(), "data"), "--log-format", "journal")
		require.NoError(t, stop())
		lines := strings.Split(strings.TrimSpace(log.String()), "\n")
		require.NotEmpty(t, lines)
		for _, l := range lines {
			assert.Regexp(t, `^<[3467]>level=`, l)
			assert.NotContains(t, l, "time=")
		}
	})
	t.Run("json", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "serve", "--data", filepath.Join(t.TempDir(), "data"), "--http", "127.0.0.1:0",
			"--mqtts", "127.0.0.1:0", "--log-format", "json")
		cmd.Env = append(os.Environ(), "SWC_CENTRAL_AS_MAIN=1")
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		listening := make(chan map[string]any, 1)
		bad := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					bad <- sc.Text()
					return
				}
				if msg, _ := m["msg"].(string); strings.HasSuffix(msg, "HTTP API listening") {
					listening <- m
				}
			}
		}()
		select {
		case m := <-listening:
			assert.Contains(t, m, "time")
			assert.Equal(t, "INFO", m["level"])
			assert.NotEmpty(t, m["addr"])
		case l := <-bad:
			t.Fatalf("a log line is not JSON: %q", l)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not log that it listens within 30 s")
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	})
}
