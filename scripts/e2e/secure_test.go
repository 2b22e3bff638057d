package e2e

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/credential"
	edgedoor "github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/edge/store"
	edgesync "github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// unlockPin is a relay pin that counts the writes that unlock (active low).
type unlockPin struct {
	*gpiotest.Pin
	mu       sync.Mutex
	unlocked int
}

func (p *unlockPin) Out(l gpio.Level) error {
	p.mu.Lock()
	if l == gpio.Low {
		p.unlocked++
	}
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *unlockPin) unlocks() int { p.mu.Lock(); defer p.mu.Unlock(); return p.unlocked }

// secureDoor is a door agent run in the test's process, as swc-edge run
// would, with the fake reader that hosts simulated smart cards (the MFRC522
// driver's ISO 14443-4 layer is not wired yet), the real store and the
// real MQTT sync to the central's broker.
type secureDoor struct {
	reader *readerfake.Reader
	store  *store.Store
	lock   *unlockPin
}

func startSecureDoor(t *testing.T, id, broker, secret, key string) *secureDoor {
	t.Helper()
	dir := t.TempDir()
	cfg, err := agent.Parse([]byte(doorTOML(id, filepath.Join(dir, "data"), key, "127.0.0.1:0", broker, secret, "")))
	require.NoError(t, err)
	d := &secureDoor{reader: readerfake.New(), lock: &unlockPin{Pin: &gpiotest.Pin{N: "GPIO5"}}}
	ctrl, err := edgedoor.New(edgedoor.Config{Lock: edgedoor.Output{Pin: d.lock, ActiveLow: cfg.Door.LockActiveLow}, LockKind: edgedoor.LockKind(cfg.Door.LockType),
		UnlockTime: cfg.Door.UnlockTime, HeldOpen: cfg.Door.HeldOpenTime, Debounce: cfg.Door.InputDebounce})
	require.NoError(t, err)
	d.store, err = store.Open(context.Background(), cfg.DBPath(), cfg.StoreOptions())
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a, err := agent.New(agent.Deps{Config: cfg, Door: ctrl, Reader: d.reader, Store: d.store, Listener: ln,
		Components: []agent.ComponentFactory{edgesync.Factory()}, Firmware: "e2e"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		d.store.Close()
		ctrl.Close()
	})
	return d
}

// listed waits until the door's whitelist lists uid as want says.
func (d *secureDoor) listed(t *testing.T, uid protocol.UID, want func(protocol.Entry) bool, what string) {
	t.Helper()
	eventually(t, func() bool {
		e, ok, err := d.store.Entry(context.Background(), uid)
		return err == nil && ok && want(e)
	}, "door whitelist: %s", what)
}

func (d *secureDoor) requiresSecure(t *testing.T, want bool) {
	t.Helper()
	eventually(t, func() bool {
		wi, err := d.store.Whitelist(context.Background())
		return err == nil && wi.RequireSecure == want
	}, "door whitelist: require_secure %v", want)
}

// centralEvents returns the central's stored events of a badge at a door.
func centralEvents(t *testing.T, c *central, door string, uid protocol.UID) []protocol.Event {
	t.Helper()
	var page struct{ Items []protocol.Event }
	require.NoError(t, jsonDecode(c.must("GET", "/events?door="+door+"&limit=500", nil), &page))
	var out []protocol.Event
	for _, e := range page.Items {
		if e.UID == uid {
			out = append(out, e)
		}
	}
	return out
}

// TestSecureBadgesEndToEnd: a card master key in the central's data folder;
// a station personalises an NTAG 424 DNA and a 4-byte DESFire EV2 through
// the central's personalisation endpoint and registers them; the central
// compiles their door keys into the door's whitelist; the door grants the
// cards, denies a magic clone with denied_auth_failed, and its
// suspected_clone alarm reaches the central as an event and an open alert;
// the center's require_secure_credentials policy then refuses UID-only
// badges at its doors.
func TestSecureBadgesEndToEnd(t *testing.T) {
	n := newNetwork(t, netOpts{})
	c := n.centrals[0]
	c.must("POST", "/doors", map[string]any{"id": "secure-door", "center_id": "c1", "name": "Secure door"})
	var sec struct{ Secret string }
	require.NoError(t, jsonDecode(c.must("POST", "/doors/secure-door/secret", nil), &sec))
	d := startSecureDoor(t, "secure-door", n.broker, sec.Secret, n.key)
	d.listed(t, uidStaff, func(protocol.Entry) bool { return true }, "the seeded staff badge")

	station := &credential.HTTPCentral{Client: http.DefaultClient, Base: "http://" + c.httpAddr, Token: c.token}
	ntag, err := desfiresim.NewNTAG424([]byte{0x04, 0x5E, 0xC0, 0x4E, 0x80, 0x1D, 0x80}, desfiresim.Options{})
	require.NoError(t, err)
	ev2, err := desfiresim.NewDESFireEV2([]byte{0x08, 0x5E, 0xC0, 0x4E}, desfiresim.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	for _, card := range []*desfiresim.Card{ntag, ev2} {
		stationReader := readerfake.New()
		require.NoError(t, stationReader.PresentSecure(card, 0))
		fc, err := stationReader.Next(ctx)
		require.NoError(t, err)
		done, err := credential.Enroll(ctx, fc, "", "staff-1", station, nil)
		require.NoError(t, err)
		assert.Equal(t, uint8(1), done.KeyVersion)
		d.listed(t, done.UID, func(e protocol.Entry) bool { return e.Card == done.Card && len(e.Keys) == 1 }, "secure badge "+string(done.UID))

		require.NoError(t, d.reader.PresentSecure(card, 0))
		eventually(t, func() bool {
			evs := centralEvents(t, c, "secure-door", done.UID)
			return len(evs) == 1 && evs[0].Reason == protocol.GrantedStaff
		}, "the central stored the grant of %s", done.UID)
		if done.Card == protocol.CardNTAG424DNA {
			assert.Equal(t, card.SDMReadCounter(), centralEvents(t, c, "secure-door", done.UID)[0].ReadCounter)
		}
	}
	eventually(t, func() bool { return d.lock.unlocks() == 2 }, "both cards opened")

	// A magic clone of the NTAG's UID.
	clone, err := desfiresim.NewMagicClone(ntag.UID(), desfiresim.Options{})
	require.NoError(t, err)
	time.Sleep(60 * time.Millisecond) // past the debounce
	require.NoError(t, d.reader.PresentSecure(clone, 0))
	uid := protocol.UIDFromBytes(ntag.UID())
	eventually(t, func() bool {
		var kinds []string
		for _, e := range centralEvents(t, c, "secure-door", uid) {
			kinds = append(kinds, string(e.Kind)+":"+string(e.Reason))
		}
		return len(kinds) == 3 && kinds[1] == "tap:denied_auth_failed" && kinds[2] == "suspected_clone:"
	}, "the clone's denial and alarm at the central")
	eventually(t, func() bool {
		code, body := c.api("GET", "/alerts?kind=suspected_clone&door=secure-door", nil)
		var page struct {
			Items []struct{ Details map[string]string }
		}
		return code == http.StatusOK && jsonDecode(body, &page) == nil && len(page.Items) == 1 && page.Items[0].Details["uid"] == string(uid)
	}, "an open suspected_clone alert for the badge")
	assert.Equal(t, 2, d.lock.unlocks(), "the clone never unlocked the relay")

	// The center requires secure badges: the UID-only staff badge is refused.
	var center map[string]any
	require.NoError(t, jsonDecode(c.must("GET", "/centers/c1", nil), &center))
	center["require_secure_credentials"] = true
	c.must("PUT", "/centers/c1", center)
	d.requiresSecure(t, true)
	require.NoError(t, d.reader.PresentUID(uidStaff.Bytes()))
	eventually(t, func() bool {
		evs := centralEvents(t, c, "secure-door", uidStaff)
		return len(evs) == 1 && evs[0].Reason == protocol.DeniedNotSecure
	}, "the UID-only badge refused under the policy")
	assert.Equal(t, 2, d.lock.unlocks())
}
