package server_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// family is one metric family of a scrape.
type family struct {
	name, typ, help string
	samples         map[string]float64 // full sample name with labels → value
}

// scrape reads /metrics and checks the exposition is well formed: every
// sample belongs to a family declared with HELP and TYPE before it.
func scrape(t *testing.T, s *server.Server) map[string]*family {
	t.Helper()
	code, body := call(t, s, "", "GET", "/metrics", nil)
	require.Equal(t, 200, code)
	fams := map[string]*family{}
	var cur *family
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			f := strings.SplitN(strings.TrimPrefix(line, "# HELP "), " ", 2)
			require.Len(t, f, 2, line)
			require.NotContains(t, fams, f[0], "family %s declared twice", f[0])
			cur = &family{name: f[0], help: f[1], samples: map[string]float64{}}
			fams[f[0]] = cur
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(strings.TrimPrefix(line, "# TYPE "))
			require.Len(t, f, 2, line)
			require.NotNil(t, cur, line)
			require.Equal(t, cur.name, f[0], "TYPE follows its HELP")
			cur.typ = f[1]
		default:
			m := sample.FindStringSubmatch(line)
			require.NotNil(t, m, "not a sample line: %q", line)
			require.NotNil(t, cur, line)
			name := m[1]
			if cur.typ == "histogram" {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				require.Equal(t, cur.name, base, "sample %s outside its family", name)
			} else {
				require.Equal(t, cur.name, name, "sample %s outside its family", name)
			}
			v, err := strconv.ParseFloat(m[3], 64)
			require.NoError(t, err, line)
			cur.samples[name+m[2]] = v
		}
	}
	return fams
}

// TestMetricsFollowPrometheusConventions scrapes /metrics after some
// traffic and checks names and types: counters end in _total and nothing
// else does, times and sizes carry their unit, histograms are complete,
// and the figures the issue asks for are there with the right types.
func TestMetricsFollowPrometheusConventions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	mustCall := func(method, path string, body any) []byte {
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}
	mustCall("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "One", "time_zone": "Europe/Brussels"})
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "door-a", "center_id": "c1", "name": "Front"})
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/doors/door-a/secret", nil), &sec))
	d, err := connectDoor(t, s, "door-a", sec.Secret)
	require.NoError(t, err)

	// Traffic: events (one sent twice), a rejected batch, a status that
	// lags the compiled whitelist, a command.
	now := time.Now().UnixMilli()
	batch := &protocol.EventBatch{V: protocol.Version, Door: "door-a", Events: []protocol.Event{
		{Seq: 1, TimeMs: now, Trusted: true, Boot: "b1", Kind: protocol.EventDoorClosed, WLVersion: 1}}}
	d.publish(t, protocol.TopicEvents, batch)
	d.publish(t, protocol.TopicEvents, batch)
	tok := d.c.Publish(protocol.DefaultTopics().Door("door-a", protocol.TopicEvents), 1, false, []byte(`{"v":1,"door":"door-a","events":"nope"}`))
	require.True(t, tok.WaitTimeout(5*time.Second))
	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOnline, WLVersion: 0, OutboxDepth: 3})
	mustCall("POST", "/api/v1/doors/door-a/commands", map[string]any{"action": "resync"})

	var fams map[string]*family
	require.Eventually(t, func() bool {
		fams = scrape(t, s)
		f := fams["swc_ingest_duplicate_events_total"]
		return f != nil && f.samples["swc_ingest_duplicate_events_total"] == 1 && fams["swc_doors_online"].samples["swc_doors_online"] == 1 &&
			len(fams["swc_ingest_rejected_messages_total"].samples) > 0
	}, 10*time.Second, 50*time.Millisecond)

	unit := regexp.MustCompile(`_(seconds|bytes)(_total)?$`)
	timeOrSize := regexp.MustCompile(`latency|duration|delay|_lag|_age|elapsed|_size|bytes|seconds`)
	for name, f := range fams {
		t.Run(name, func(t *testing.T) {
			assert.Regexp(t, `^swc_[a-z0-9]+(_[a-z0-9]+)*$`, name, "lower snake case under swc_")
			assert.NotEmpty(t, f.help)
			switch f.typ {
			case "counter":
				assert.True(t, strings.HasSuffix(name, "_total"), "a counter ends in _total")
			case "gauge":
				assert.False(t, strings.HasSuffix(name, "_total"), "only counters end in _total")
			case "histogram":
				assert.False(t, strings.HasSuffix(name, "_total"))
				assert.Regexp(t, unit, name, "a histogram observes a unit: seconds or bytes")
				inf := f.samples[name+`_bucket{le="+Inf"}`]
				assert.Equal(t, f.samples[name+"_count"], inf, "the +Inf bucket counts every observation")
				assert.Contains(t, f.samples, name+"_sum")
			default:
				t.Errorf("type %q", f.typ)
			}
			if timeOrSize.MatchString(name) {
				assert.Regexp(t, unit, name, "a time or size carries its unit in its name")
			}
		})
	}

	want := map[string]string{
		"swc_ingest_events_total":            "counter",
		"swc_ingest_duplicate_events_total":  "counter",
		"swc_ingest_rejected_messages_total": "counter",
		"swc_ingest_latency_seconds":         "histogram",
		"swc_doors_online":                   "gauge",
		"swc_doors_whitelist_behind":         "gauge",
		"swc_whitelist_publish_lag_seconds":  "histogram",
		"swc_door_commands_total":            "counter",
		"swc_web_live_streams":               "gauge",
		"swc_api_requests_total":             "counter",
	}
	for name, typ := range want {
		require.Contains(t, fams, name)
		assert.Equal(t, typ, fams[name].typ, name)
	}
	assert.Equal(t, 1.0, fams["swc_ingest_events_total"].samples["swc_ingest_events_total"])
	assert.Equal(t, 1.0, fams["swc_ingest_rejected_messages_total"].samples[`swc_ingest_rejected_messages_total{reason="wrong_type"}`],
		"the bad batch is counted by reason: %v", fams["swc_ingest_rejected_messages_total"].samples)
	assert.Equal(t, 1.0, fams["swc_door_commands_total"].samples[`swc_door_commands_total{action="resync",result="sent"}`])
	assert.Positive(t, fams["swc_ingest_latency_seconds"].samples["swc_ingest_latency_seconds_count"])

	// The door reports version 0 while the compiler holds a newer one: it
	// lags, until it reports the compiled version.
	assert.Equal(t, 1.0, fams["swc_doors_whitelist_behind"].samples["swc_doors_whitelist_behind"])
	v, ok := s.Whitelist().Version("door-a")
	require.True(t, ok)
	d.publish(t, protocol.TopicStatus, &protocol.Status{V: protocol.Version, Door: "door-a", State: protocol.StateOnline, WLVersion: v})
	require.Eventually(t, func() bool {
		return scrape(t, s)["swc_doors_whitelist_behind"].samples["swc_doors_whitelist_behind"] == 0
	}, 5*time.Second, 20*time.Millisecond)
}

// TestReadyz is ready while the store and the broker connection are up,
// and says which check fails when the broker goes away.
func TestReadyz(t *testing.T) {
	s, _ := start(t, server.Config{DataDir: filepath.Join(t.TempDir(), "data")})
	var res struct {
		Ready  bool
		Checks map[string]string
	}
	require.Eventually(t, func() bool {
		code, body := call(t, s, "", "GET", "/readyz", nil)
		require.NoError(t, json.Unmarshal(body, &res))
		return code == 200
	}, 10*time.Second, 20*time.Millisecond, "ready once the ingest is connected")
	assert.True(t, res.Ready)
	assert.Equal(t, map[string]string{"store": "ok", "broker": "ok", "mqtt_listeners": "ok"}, res.Checks)

	require.NoError(t, s.Broker.Close())
	code, body := call(t, s, "", "GET", "/readyz", nil)
	require.NoError(t, json.Unmarshal(body, &res))
	assert.Equal(t, 503, code, "not ready as soon as the listeners are closed")
	assert.Equal(t, "not accepting", res.Checks["mqtt_listeners"], "the embedded broker's listeners are closed")
	require.Eventually(t, func() bool {
		code, body := call(t, s, "", "GET", "/readyz", nil)
		require.NoError(t, json.Unmarshal(body, &res))
		return code == 503 && res.Checks["broker"] != "ok"
	}, 10*time.Second, 20*time.Millisecond, "the ingest notices it lost the broker")
	assert.False(t, res.Ready)
	assert.Equal(t, "not connected", res.Checks["broker"])
	assert.Equal(t, "not accepting", res.Checks["mqtt_listeners"], "the embedded broker's listeners are closed")
	assert.Equal(t, "ok", res.Checks["store"])
	code, _ = call(t, s, "", "GET", "/healthz", nil)
	assert.Equal(t, 200, code, "alive all the same")
}
