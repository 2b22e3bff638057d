package desfiresim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"io"

	"github.com/smartworkcenters/swc/shared/desfire"
)

// status is a card error carrying its status word.
type status uint16

func (s status) Error() string { return "status" }

const (
	keyFree  = 0xE
	keyNever = 0xF
)

// Transceive processes one command APDU and returns the response APDU.
func (c *Card) Transceive(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prevRead, c.readStreak = c.readStreak, false
	cla, ins, p1, p2, data, err := desfire.ParseAPDU(apdu)
	if err != nil {
		c.drop()
		return desfire.Response(nil, desfire.SWISOWrongLength)
	}
	switch cla {
	case 0x00:
		if ins != desfire.ISOSelectFile {
			c.drop()
			return desfire.Response(nil, desfire.SWISOINS)
		}
		return desfire.Response(nil, c.isoSelect(p1, data))
	case desfire.NativeCLA:
		if p1 != 0 || p2 != 0 {
			c.drop()
			return desfire.Response(nil, desfire.SWISOWrongP1P2)
		}
	default:
		c.drop()
		return desfire.Response(nil, desfire.SWISOCLA)
	}
	out, err := c.native(ins, data)
	var st status
	if errors.As(err, &st) {
		c.drop()
		return desfire.Response(nil, uint16(st))
	}
	if err != nil {
		c.drop()
		return desfire.Response(nil, desfire.SWIntegrity)
	}
	return out
}

// drop is what the card does on any error: the session and pending exchanges end.
func (c *Card) drop() { c.sess, c.pending, c.frames = nil, nil, nil }

func (c *Card) isoSelect(p1 byte, name []byte) uint16 {
	c.drop()
	if p1 != 0x04 {
		return desfire.SWISOWrongP1P2
	}
	known := c.kind == NTAG424DNA || (c.kind == MagicClone && c.garbage)
	if !known || !bytes.Equal(name, desfire.NTAG424DFName[:]) {
		return desfire.SWISONotFound
	}
	c.cur, c.curAID = c.apps[NTAG424App], NTAG424App
	return desfire.SWISOOK
}

func ok(data []byte) []byte { return desfire.Response(data, desfire.SWOK) }

func (c *Card) native(cmd byte, payload []byte) ([]byte, error) {
	if cmd == desfire.CmdAdditionalFrame {
		return c.additionalFrame(payload)
	}
	c.pending, c.frames = nil, nil
	if c.kind == MagicClone {
		return c.clone(cmd, payload)
	}
	switch cmd {
	case desfire.CmdSelectApplication:
		return c.selectApplication(payload)
	case desfire.CmdAuthenticateEV2First, desfire.CmdAuthenticateEV2NonFirst:
		return c.authenticate1(cmd, payload)
	case desfire.CmdGetVersion:
		return c.getVersion(payload)
	}
	if c.cur == nil {
		return nil, status(desfire.SWPermission)
	}
	switch cmd {
	case desfire.CmdGetCardUID:
		_, _, err := c.open(cmd, payload, 0, desfire.Full, true)
		if err != nil {
			return nil, err
		}
		return c.seal(c.uid, desfire.Full), nil
	case desfire.CmdGetKeyVersion:
		h, _, err := c.open(cmd, payload, 1, desfire.MAC, false)
		if err != nil {
			return nil, err
		}
		if int(h[0]&0x3F) >= len(c.cur.keys) {
			return nil, status(desfire.SWNoSuchKey)
		}
		return c.seal([]byte{c.cur.keys[h[0]&0x3F].Version}, desfire.MAC), nil
	case desfire.CmdGetKeySettings:
		if _, _, err := c.open(cmd, payload, 0, desfire.MAC, false); err != nil {
			return nil, err
		}
		return c.seal([]byte{c.cur.keySettings, 0x80 | byte(len(c.cur.keys))}, desfire.MAC), nil
	case desfire.CmdChangeKeySettings:
		return c.changeKeySettings(payload)
	case desfire.CmdChangeKey:
		return c.changeKey(payload)
	case desfire.CmdCreateApplication:
		return c.createApplication(payload)
	case desfire.CmdCreateStdDataFile:
		return c.createStdDataFile(payload)
	case desfire.CmdGetFileSettings:
		return c.getFileSettings(payload)
	case desfire.CmdChangeFileSettings:
		return c.changeFileSettings(payload)
	case desfire.CmdGetFileCounters:
		return c.getFileCounters(payload)
	case desfire.CmdReadData:
		return c.readData(payload)
	case desfire.CmdWriteData:
		return c.writeData(payload)
	}
	return nil, status(desfire.SWIllegalCommand)
}

// open checks a command's protection: in a session it verifies the MAC (and
// decrypts) for mode; outside one the command is plain, or refused when it
// needs a session.
func (c *Card) open(cmd byte, payload []byte, headerLen int, mode desfire.CommMode, needSession bool) (header, data []byte, err error) {
	if c.sess == nil {
		if needSession {
			return nil, nil, status(desfire.SWAuthentication)
		}
		if len(payload) < headerLen {
			return nil, nil, status(desfire.SWLength)
		}
		return payload[:headerLen], payload[headerLen:], nil
	}
	header, data, err = c.sess.OpenCommand(cmd, payload, headerLen, mode)
	switch {
	case errors.Is(err, desfire.ErrLength):
		return nil, nil, status(desfire.SWLength)
	case err != nil:
		return nil, nil, status(desfire.SWIntegrity)
	}
	return header, data, nil
}

// seal protects a successful response for mode (plain outside a session).
func (c *Card) seal(data []byte, mode desfire.CommMode) []byte {
	if c.sess == nil {
		return ok(data)
	}
	return ok(c.sess.SealResponse(0x00, data, mode))
}

func (c *Card) selectApplication(payload []byte) ([]byte, error) {
	c.sess = nil
	if len(payload) != 3 {
		return nil, status(desfire.SWLength)
	}
	aid := [3]byte(payload)
	a, found := c.apps[aid]
	if c.kind != DESFireEV2 || !found {
		return nil, status(desfire.SWAppNotFound)
	}
	c.cur, c.curAID = a, aid
	return ok(nil), nil
}

func (c *Card) getVersion(payload []byte) ([]byte, error) {
	if _, _, err := c.open(desfire.CmdGetVersion, payload, 0, desfire.MAC, false); err != nil {
		return nil, err
	}
	v := []byte{0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05, 0x04, 0x04, 0x02, 0x01, 0x02, 0x11, 0x05}
	if c.kind == DESFireEV2 {
		v = []byte{0x04, 0x01, 0x01, 0x12, 0x00, 0x1A, 0x05, 0x04, 0x01, 0x01, 0x02, 0x01, 0x1A, 0x05}
	}
	uid := make([]byte, 7)
	copy(uid, c.uid)
	v = append(v, uid...)
	v = append(v, 0xBA, 0x7C, 0x11, 0x00, 0x00, 0x26, 0x24) // batch, week 26 of 2024
	sealed := v
	if c.sess != nil {
		sealed = c.sess.SealResponse(0x00, v, desfire.MAC)
	}
	c.frames = [][]byte{sealed[7:14], sealed[14:]}
	return desfire.Response(sealed[:7], desfire.SWAdditional), nil
}

func (c *Card) additionalFrame(payload []byte) ([]byte, error) {
	if p := c.pending; p != nil {
		c.pending = nil
		if c.kind == MagicClone { // garbage in the place of E(TI ‖ RndA' ‖ caps)
			junk := make([]byte, 32)
			_, _ = io.ReadFull(c.rand, junk)
			return ok(junk), nil
		}
		return c.authenticate2(p, payload)
	}
	if len(c.frames) > 0 && len(payload) == 0 {
		f := c.frames[0]
		c.frames = c.frames[1:]
		if len(c.frames) > 0 {
			return desfire.Response(f, desfire.SWAdditional), nil
		}
		return ok(f), nil
	}
	return nil, status(desfire.SWIllegalCommand)
}

func (c *Card) authenticate1(cmd byte, payload []byte) ([]byte, error) {
	prev := c.sess
	c.sess = nil
	if c.cur == nil {
		return nil, status(desfire.SWPermission)
	}
	if len(payload) < 1 || (cmd == desfire.CmdAuthenticateEV2First && len(payload) < 2) {
		return nil, status(desfire.SWLength)
	}
	if cmd == desfire.CmdAuthenticateEV2NonFirst {
		if prev == nil {
			return nil, status(desfire.SWAuthentication)
		}
		c.sess = prev // kept until the second part succeeds or fails
	}
	keyNo := payload[0] & 0x3F
	if int(keyNo) >= len(c.cur.keys) {
		return nil, status(desfire.SWNoSuchKey)
	}
	rndB := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, rndB); err != nil {
		return nil, status(desfire.SWCommandAborted)
	}
	block, _ := aes.NewCipher(c.cur.keys[keyNo].Value[:])
	enc := make([]byte, 16)
	block.Encrypt(enc, rndB)
	c.pending = &pendingAuth{cmd: cmd, keyNo: keyNo, rndB: rndB}
	return desfire.Response(enc, desfire.SWAdditional), nil
}

func (c *Card) authenticate2(p *pendingAuth, payload []byte) ([]byte, error) {
	prev := c.sess
	c.sess = nil
	if len(payload) != 32 {
		return nil, status(desfire.SWLength)
	}
	key := c.cur.keys[p.keyNo].Value[:]
	block, _ := aes.NewCipher(key)
	var zero [16]byte
	plain := make([]byte, 32)
	cipher.NewCBCDecrypter(block, zero[:]).CryptBlocks(plain, payload)
	rndA, rndBr := plain[:16], plain[16:]
	want := append(append([]byte(nil), p.rndB[1:]...), p.rndB[0])
	if subtle.ConstantTimeCompare(rndBr, want) != 1 {
		return nil, status(desfire.SWAuthentication)
	}
	encKey, macKey, err := desfire.DeriveSessionKeys(key, rndA, p.rndB)
	if err != nil {
		return nil, err
	}
	rndAr := append(append([]byte(nil), rndA[1:]...), rndA[0])
	var ti [4]byte
	var ctr uint16
	var answer []byte
	if p.cmd == desfire.CmdAuthenticateEV2First {
		if _, err := io.ReadFull(c.rand, ti[:]); err != nil {
			return nil, status(desfire.SWCommandAborted)
		}
		answer = append(append(append([]byte(nil), ti[:]...), rndAr...), make([]byte, 12)...) // PDcap2, PCDcap2 zero
	} else {
		ti, ctr = prev.TI, prev.CmdCtr
		answer = rndAr
	}
	cipher.NewCBCEncrypter(block, zero[:]).CryptBlocks(answer, answer)
	s, err := desfire.NewSession(encKey[:], macKey[:], ti, ctr)
	if err != nil {
		return nil, err
	}
	s.KeyNo = p.keyNo
	c.sess = s
	return ok(answer), nil
}

// needKey checks that the session was authenticated with key k (0..13); E is
// free access and F never.
func (c *Card) needKey(k byte) error {
	switch {
	case k == keyFree:
		return nil
	case k == keyNever:
		return status(desfire.SWPermission)
	case c.sess == nil:
		return status(desfire.SWAuthentication)
	case c.sess.KeyNo != k:
		return status(desfire.SWPermission)
	}
	return nil
}

func (c *Card) changeKey(payload []byte) ([]byte, error) {
	if c.sess == nil {
		return nil, status(desfire.SWAuthentication)
	}
	if len(payload) < 1 {
		return nil, status(desfire.SWLength)
	}
	keyNo := payload[0] & 0x3F
	if int(keyNo) >= len(c.cur.keys) {
		return nil, status(desfire.SWNoSuchKey)
	}
	// Who may change keys: key 0 on NTAG 424 DNA; the key settings' ChangeKey
	// nibble on DESFire (0: master key, E: the key itself, F: frozen).
	switch rule := c.cur.keySettings >> 4; {
	case c.kind == NTAG424DNA || rule == 0:
		if c.sess.KeyNo != 0 {
			return nil, status(desfire.SWPermission)
		}
	case rule == keyFree:
		if c.sess.KeyNo != keyNo {
			return nil, status(desfire.SWPermission)
		}
	case rule == keyNever:
		if keyNo != 0 || c.sess.KeyNo != 0 {
			return nil, status(desfire.SWPermission)
		}
	default:
		if c.sess.KeyNo != rule && !(keyNo == 0 && c.sess.KeyNo == 0) {
			return nil, status(desfire.SWPermission)
		}
	}
	_, data, err := c.open(desfire.CmdChangeKey, payload, 1, desfire.Full, true)
	if err != nil {
		return nil, err
	}
	if keyNo == c.sess.KeyNo {
		if len(data) != 17 {
			return nil, status(desfire.SWLength)
		}
		c.cur.keys[keyNo] = Key{Value: [16]byte(data[:16]), Version: data[16]}
		c.sess = nil // the session's key is gone: so is the session, and the answer has no MAC
		return ok(nil), nil
	}
	if len(data) != 21 {
		return nil, status(desfire.SWLength)
	}
	var nk [16]byte
	subtle.XORBytes(nk[:], data[:16], c.cur.keys[keyNo].Value[:])
	crc := desfire.CRC32NK(nk[:])
	if subtle.ConstantTimeCompare(crc[:], data[17:21]) != 1 {
		return nil, status(desfire.SWIntegrity)
	}
	c.cur.keys[keyNo] = Key{Value: nk, Version: data[16]}
	return c.seal(nil, desfire.Full), nil
}

func (c *Card) changeKeySettings(payload []byte) ([]byte, error) {
	if err := c.needKey(0); err != nil {
		return nil, err
	}
	if c.cur.keySettings&0x08 == 0 {
		return nil, status(desfire.SWPermission)
	}
	_, data, err := c.open(desfire.CmdChangeKeySettings, payload, 0, desfire.Full, true)
	if err != nil {
		return nil, err
	}
	if len(data) != 1 {
		return nil, status(desfire.SWLength)
	}
	c.cur.keySettings = data[0]
	return c.seal(nil, desfire.Full), nil
}

// openCreate opens a DESFire create command (on the PICC level or in an
// application): allowed to anyone when the key settings' free create bit is
// set, else to the level's master key; MAC mode in a session; wantLen bytes.
func (c *Card) openCreate(cmd byte, payload []byte, piccLevel bool, wantLen int) ([]byte, error) {
	if c.kind != DESFireEV2 || (c.curAID == PICC) != piccLevel {
		return nil, status(desfire.SWPermission)
	}
	if c.cur.keySettings&0x04 == 0 {
		if err := c.needKey(0); err != nil {
			return nil, err
		}
	}
	_, data, err := c.open(cmd, payload, 0, desfire.MAC, false)
	if err != nil {
		return nil, err
	}
	if len(data) != wantLen {
		return nil, status(desfire.SWLength)
	}
	return data, nil
}

func (c *Card) createApplication(payload []byte) ([]byte, error) {
	data, err := c.openCreate(desfire.CmdCreateApplication, payload, true, 5)
	if err != nil {
		return nil, err
	}
	aid := [3]byte(data[:3])
	n := int(data[4] & 0x0F)
	if aid == PICC || data[4]&0xC0 != 0x80 || n < 1 || n > 14 {
		return nil, status(desfire.SWParameter)
	}
	if _, dup := c.apps[aid]; dup {
		return nil, status(desfire.SWDuplicate)
	}
	c.apps[aid] = &app{keySettings: data[3], keys: make([]Key, n), files: map[byte]*file{}}
	return c.seal(nil, desfire.MAC), nil
}

func commMode(option byte) desfire.CommMode {
	switch option & 0x03 {
	case 0x01:
		return desfire.MAC
	case 0x03:
		return desfire.Full
	}
	return desfire.Plain
}

func (c *Card) createStdDataFile(payload []byte) ([]byte, error) {
	data, err := c.openCreate(desfire.CmdCreateStdDataFile, payload, false, 7)
	if err != nil {
		return nil, err
	}
	size := desfire.LE24(data[4:7])
	if data[0] > 31 || size == 0 || size > 8192 {
		return nil, status(desfire.SWParameter)
	}
	if _, dup := c.cur.files[data[0]]; dup {
		return nil, status(desfire.SWDuplicate)
	}
	c.cur.files[data[0]] = &file{comm: commMode(data[1]), option: data[1] & 0x03, access: [2]byte(data[2:4]), data: make([]byte, size)}
	return c.seal(nil, desfire.MAC), nil
}

func (c *Card) file(payload []byte) (*file, error) {
	if len(payload) < 1 {
		return nil, status(desfire.SWLength)
	}
	f := c.cur.files[payload[0]]
	if f == nil {
		return nil, status(desfire.SWFileNotFound)
	}
	return f, nil
}

func (c *Card) getFileSettings(payload []byte) ([]byte, error) {
	f, err := c.file(payload)
	if err != nil {
		return nil, err
	}
	if _, _, err := c.open(desfire.CmdGetFileSettings, payload, 1, desfire.MAC, false); err != nil {
		return nil, err
	}
	out := append([]byte{0x00, f.option, f.access[0], f.access[1]}, byte(len(f.data)), byte(len(f.data)>>8), byte(len(f.data)>>16))
	out = append(out, f.sdm...)
	return c.seal(out, desfire.MAC), nil
}

func (c *Card) changeFileSettings(payload []byte) ([]byte, error) {
	f, err := c.file(payload)
	if err != nil {
		return nil, err
	}
	if err := c.needKey(f.access[0] & 0x0F); err != nil {
		return nil, err
	}
	_, data, err := c.open(desfire.CmdChangeFileSettings, payload, 1, desfire.Full, f.access[0]&0x0F != keyFree)
	if err != nil {
		return nil, err
	}
	if len(data) < 3 || data[0]&0x3C != 0 {
		return nil, status(desfire.SWParameter)
	}
	var sdm []byte
	if data[0]&0x40 != 0 {
		if c.kind != NTAG424DNA || len(data) < 6 {
			return nil, status(desfire.SWParameter)
		}
		sdm = append([]byte(nil), data[3:]...)
	} else if len(data) != 3 {
		return nil, status(desfire.SWLength)
	}
	if sdm != nil && f.sdm == nil {
		f.sdmCtr = 0 // reset when SDM is enabled
	}
	f.option, f.comm, f.access, f.sdm = data[0], commMode(data[0]), [2]byte(data[1:3]), sdm
	f.sdmCtrOn = sdm != nil && sdm[0]&0x40 != 0 // SDMOptions bit 6: SDMReadCtr
	return c.seal(nil, desfire.Full), nil
}

func (c *Card) getFileCounters(payload []byte) ([]byte, error) {
	f, err := c.file(payload)
	if err != nil {
		return nil, err
	}
	if !f.sdmCtrOn {
		return nil, status(desfire.SWPermission)
	}
	ctrRet := f.sdm[1] & 0x0F
	if err := c.needKey(ctrRet); err != nil {
		return nil, err
	}
	if _, _, err := c.open(desfire.CmdGetFileCounters, payload, 1, desfire.Full, ctrRet != keyFree); err != nil {
		return nil, err
	}
	return c.seal(append([]byte{byte(f.sdmCtr), byte(f.sdmCtr >> 8), byte(f.sdmCtr >> 16)}, 0, 0), desfire.Full), nil
}

// accessMode checks an access right pair (the specific right and RW) and
// returns the communication mode of the exchange: plain for free access.
func (c *Card) accessMode(f *file, right byte) (desfire.CommMode, error) {
	rw := f.access[0] >> 4
	if right == keyFree || rw == keyFree {
		return desfire.Plain, nil
	}
	if c.sess != nil && (c.sess.KeyNo == right || c.sess.KeyNo == rw) {
		return f.comm, nil
	}
	if c.sess == nil {
		return 0, status(desfire.SWAuthentication)
	}
	return 0, status(desfire.SWPermission)
}

func (c *Card) readData(payload []byte) ([]byte, error) {
	f, err := c.file(payload)
	if err != nil {
		return nil, err
	}
	mode, err := c.accessMode(f, f.access[1]>>4)
	if err != nil {
		return nil, err
	}
	h, _, err := c.open(desfire.CmdReadData, payload, 7, mode, false)
	if err != nil {
		return nil, err
	}
	off, n := desfire.LE24(h[1:4]), desfire.LE24(h[4:7])
	size := uint32(len(f.data))
	if n == 0 && off < size {
		n = size - off
	}
	if off >= size || n > size-off {
		return nil, status(desfire.SWBoundary)
	}
	if n > 240 {
		return nil, status(desfire.SWLength) // no response chaining in this simulator
	}
	if f.sdmCtrOn && c.sess == nil {
		if !c.prevRead {
			if f.sdmCtr == 0xFFFFFF { // the limit: unauthenticated reads refused
				return nil, status(desfire.SWPermission)
			}
			f.sdmCtr++
		}
		c.readStreak = true
	}
	return c.seal(append([]byte(nil), f.data[off:off+n]...), mode), nil
}

func (c *Card) writeData(payload []byte) ([]byte, error) {
	f, err := c.file(payload)
	if err != nil {
		return nil, err
	}
	mode, err := c.accessMode(f, f.access[1]&0x0F)
	if err != nil {
		return nil, err
	}
	h, data, err := c.open(desfire.CmdWriteData, payload, 7, mode, false)
	if err != nil {
		return nil, err
	}
	off, n := desfire.LE24(h[1:4]), desfire.LE24(h[4:7])
	if int(n) != len(data) {
		return nil, status(desfire.SWLength)
	}
	if off > uint32(len(f.data)) || n > uint32(len(f.data))-off {
		return nil, status(desfire.SWBoundary)
	}
	copy(f.data[off:], data)
	return c.seal(nil, mode), nil
}

// clone answers like a UID-changeable card holding no keys.
func (c *Card) clone(cmd byte, payload []byte) ([]byte, error) {
	if !c.garbage {
		if cmd == desfire.CmdSelectApplication {
			return nil, status(desfire.SWAppNotFound)
		}
		return nil, status(desfire.SWIllegalCommand)
	}
	switch cmd {
	case desfire.CmdSelectApplication:
		return ok(nil), nil
	case desfire.CmdReadData: // the NDEF content a clone copied, or anything
		if len(payload) != 7 || desfire.LE24(payload[4:7]) > 240 {
			return nil, status(desfire.SWLength)
		}
		junk := make([]byte, desfire.LE24(payload[4:7]))
		_, _ = io.ReadFull(c.rand, junk)
		return ok(junk), nil
	case desfire.CmdAuthenticateEV2First, desfire.CmdAuthenticateEV2NonFirst:
		junk := make([]byte, 16)
		_, _ = io.ReadFull(c.rand, junk)
		c.pending = &pendingAuth{cmd: 0}
		return desfire.Response(junk, desfire.SWAdditional), nil
	}
	return nil, status(desfire.SWIllegalCommand)
}
