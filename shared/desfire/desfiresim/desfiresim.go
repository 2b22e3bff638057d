// Package desfiresim is a simulated contactless card application, the card side
// of package desfire's protocol: an NTAG 424 DNA (factory or personalised: the
// NDEF application with its five AES keys, its three files and the SDM read
// counter), a MIFARE DESFire EV2 (PICC master key, applications with AES keys,
// standard data files, key change) and a "magic UID clone" that answers with an
// enrolled badge's UID but holds no keys.
//
// A Card takes one complete command APDU and returns one complete response
// (status bytes included), so the reader simulator's ISO-DEP layer can host it.
// It makes the real card's own checks: a wrong MAC is 911E, a wrong key 91AE,
// the command counter is part of every MAC, and any error ends the session.
//
// Simplifications, stated: the DESFire PICC master key is an AES key (real EV2
// cards ship a 2K3DES one, which AuthenticateEV2First cannot use); only standard
// data files exist; the NTAG 424 DNA's SDM read counter follows the datasheet
// (NT4H2421Gx §9.3: reset when SDM is enabled, incremented by the first ReadData
// of the file after any other command, only when not authenticated) but the SDM
// mirror (SUN message in the NDEF data) is not generated, nor is
// ISOReadBinary; no LRP, no originality signature, no transaction MAC, no
// response chaining beyond GetVersion (reads are limited to 240 bytes).
package desfiresim

import (
	"crypto/rand"
	"fmt"
	"io"
	"sync"

	"github.com/smartworkcenters/swc/shared/desfire"
)

// Kind is the kind of card simulated.
type Kind int

const (
	NTAG424DNA Kind = iota // NXP NTAG 424 DNA
	DESFireEV2             // NXP MIFARE DESFire EV2
	MagicClone             // a UID-changeable card holding no keys
)

func (k Kind) String() string {
	switch k {
	case NTAG424DNA:
		return "NTAG 424 DNA"
	case DESFireEV2:
		return "DESFire EV2"
	case MagicClone:
		return "magic UID clone"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Key is an AES-128 key and its version byte.
type Key struct {
	Value   [desfire.KeySize]byte
	Version byte
}

// App describes a DESFire application present when the card is made.
type App struct {
	AID         [3]byte
	KeySettings byte
	Keys        []Key // 1 to 14 AES keys
}

// PICC is the AID of the DESFire card level, and NTAG424App the key under which
// the NTAG 424 DNA application is kept (for Card.Key).
var (
	PICC       = [3]byte{0, 0, 0}
	NTAG424App = desfire.NTAG424DiversificationAID
)

// Options shape a card. The zero value is a factory card.
type Options struct {
	// Rand gives RndB and TI; nil means crypto/rand.
	Rand io.Reader
	// Keys are the NTAG 424 DNA application's five keys; nil: factory (all zero, version 0).
	Keys []Key
	// SDMEnabled starts the NTAG 424 DNA's NDEF file with secure dynamic
	// messaging enabled (read counter readable with key SDMCtrRetKey).
	SDMEnabled   bool
	SDMCtrRetKey byte
	// PICCKey is the DESFire PICC master key; nil: AES zero key, version 0.
	PICCKey *Key
	// PICCKeySettings is the DESFire PICC key settings byte; 0: factory 0x0F
	// (anyone may create applications).
	PICCKeySettings byte
	// Apps are DESFire applications already on the card.
	Apps []App
	// CloneGarbage makes a MagicClone answer the authentication with random
	// bytes instead of refusing the application.
	CloneGarbage bool
}

type file struct {
	comm     desfire.CommMode
	option   byte    // FileOption: comm mode in bits 0-1, SDM in bit 6
	access   [2]byte // RW<<4|Change, Read<<4|Write
	data     []byte
	sdm      []byte // SDMOptions ‖ SDMAccessRights ‖ offsets, when SDM is enabled
	sdmCtr   uint32
	sdmCtrOn bool
}

type app struct {
	keySettings byte
	keys        []Key
	files       map[byte]*file
}

type pendingAuth struct {
	cmd   byte
	keyNo byte
	rndB  []byte
}

// Card is one simulated card. It is safe for concurrent use.
type Card struct {
	mu      sync.Mutex
	kind    Kind
	uid     []byte
	rand    io.Reader
	garbage bool
	apps    map[[3]byte]*app
	cur     *app // selected application (nil: none, for NTAG 424 DNA)
	curAID  [3]byte
	sess    *desfire.Session
	pending *pendingAuth
	frames  [][]byte // the rest of a chained response
	// readStreak: the previous command was a successful ReadData of an SDM
	// file, so a following read does not increment SDMReadCtr again.
	readStreak, prevRead bool
}

func newCard(kind Kind, uid []byte, opt Options) (*Card, error) {
	if len(uid) != 4 && len(uid) != 7 {
		return nil, fmt.Errorf("desfiresim: UID of %d bytes (4 or 7)", len(uid))
	}
	c := &Card{kind: kind, uid: append([]byte(nil), uid...), rand: opt.Rand, apps: map[[3]byte]*app{}}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c, nil
}

// NewNTAG424 makes an NTAG 424 DNA: factory (opt.Keys nil) or personalised.
func NewNTAG424(uid []byte, opt Options) (*Card, error) {
	c, err := newCard(NTAG424DNA, uid, opt)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 5)
	if opt.Keys != nil {
		if len(opt.Keys) != 5 {
			return nil, fmt.Errorf("desfiresim: NTAG 424 DNA has 5 keys, got %d", len(opt.Keys))
		}
		copy(keys, opt.Keys)
	}
	a := &app{keySettings: 0x0F, keys: keys, files: map[byte]*file{
		// Factory files and access rights of the NTAG 424 DNA datasheet.
		0x01: {option: 0x00, access: [2]byte{0x00, 0xE0}, data: ccFile()},
		0x02: {option: 0x00, access: [2]byte{0xE0, 0xEE}, data: make([]byte, 256)},
		0x03: {comm: desfire.Full, option: 0x03, access: [2]byte{0x30, 0x23}, data: make([]byte, 128)},
	}}
	if opt.SDMEnabled {
		f := a.files[0x02]
		f.option |= 0x40
		f.sdm = desfire.NTAG424SDMCounterSettings(opt.SDMCtrRetKey)[3:]
		f.sdmCtrOn = true
	}
	c.apps[NTAG424App] = a
	return c, nil
}

func ccFile() []byte {
	cc := make([]byte, 32)
	copy(cc, []byte{0x00, 0x17, 0x20, 0x01, 0x00, 0x00, 0xFF, 0x04, 0x06, 0xE1, 0x04, 0x01, 0x00, 0x00, 0x00, 0x05, 0x06, 0xE1, 0x05, 0x00, 0x80, 0x82, 0x83, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})
	return cc
}

// NewDESFireEV2 makes a DESFire EV2 with a PICC master key and optional applications.
func NewDESFireEV2(uid []byte, opt Options) (*Card, error) {
	c, err := newCard(DESFireEV2, uid, opt)
	if err != nil {
		return nil, err
	}
	picc := &app{keySettings: 0x0F, keys: make([]Key, 1), files: map[byte]*file{}}
	if opt.PICCKey != nil {
		picc.keys[0] = *opt.PICCKey
	}
	if opt.PICCKeySettings != 0 {
		picc.keySettings = opt.PICCKeySettings
	}
	c.apps[PICC] = picc
	for _, a := range opt.Apps {
		if a.AID == PICC || len(a.Keys) == 0 || len(a.Keys) > 14 {
			return nil, fmt.Errorf("desfiresim: application %X with %d keys", a.AID, len(a.Keys))
		}
		c.apps[a.AID] = &app{keySettings: a.KeySettings, keys: append([]Key(nil), a.Keys...), files: map[byte]*file{}}
	}
	c.cur, c.curAID = picc, PICC
	return c, nil
}

// NewMagicClone makes a card that answers with uid but holds no keys: it does
// not know the NTAG 424 DNA application nor any DESFire application, or, with
// opt.CloneGarbage, accepts them and answers the authentication with random bytes.
func NewMagicClone(uid []byte, opt Options) (*Card, error) {
	c, err := newCard(MagicClone, uid, opt)
	if err != nil {
		return nil, err
	}
	c.garbage = opt.CloneGarbage
	return c, nil
}

// Kind returns the kind of card.
func (c *Card) Kind() Kind { return c.kind }

// UID returns the card's UID.
func (c *Card) UID() []byte { return append([]byte(nil), c.uid...) }

// Key returns key keyNo of an application (NTAG424App, PICC or a DESFire AID).
func (c *Card) Key(aid [3]byte, keyNo byte) (Key, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apps[aid]
	if !ok || int(keyNo) >= len(a.keys) {
		return Key{}, false
	}
	return a.keys[keyNo], true
}

// SDMReadCounter returns the NTAG 424 DNA's SDM read counter of the NDEF file.
func (c *Card) SDMReadCounter() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.apps[NTAG424App]; ok {
		return a.files[0x02].sdmCtr
	}
	return 0
}

// Session returns the key number and command counter of the open session.
func (c *Card) Session() (keyNo byte, cmdCtr uint16, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return 0, 0, false
	}
	return c.sess.KeyNo, c.sess.CmdCtr, true
}

// FileData returns a copy of a file's content.
func (c *Card) FileData(aid [3]byte, fileNo byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apps[aid]
	if !ok || a.files[fileNo] == nil {
		return nil, false
	}
	return append([]byte(nil), a.files[fileNo].data...), true
}

// Reset is the card leaving the field: session, selection and pending frames are lost.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess, c.pending, c.frames = nil, nil, nil
	c.cur = nil
	if c.kind == DESFireEV2 {
		c.cur, c.curAID = c.apps[PICC], PICC
	}
}
