package desfire

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Transceiver sends one APDU to the card and returns its complete response,
// status bytes included (the reader's ISO 14443-4 layer implements it).
type Transceiver interface {
	Transceive(ctx context.Context, apdu []byte) ([]byte, error)
}

// Card is the host's view of one DESFire EV2/EV3 or NTAG 424 DNA card in the
// field: the transport, the random source and the current session, if any. Any
// error from the card ends the session (the card forgets it too). A Card is not
// safe for concurrent use.
type Card struct {
	t    Transceiver
	rand io.Reader
	sess *Session
}

// New returns a Card on a transport; random provides RndA (nil means crypto/rand.Reader).
func New(t Transceiver, random io.Reader) *Card {
	if random == nil {
		random = rand.Reader
	}
	return &Card{t: t, rand: random}
}

// maxFrames bounds 91AF response chaining: a card that never stops is refused.
const maxFrames = 64

// Session returns the current session, or nil before an authentication or after an error.
func (c *Card) Session() *Session { return c.sess }

// transmit sends one APDU and splits the answer.
func (c *Card) transmit(ctx context.Context, apdu []byte) ([]byte, uint16, error) {
	resp, err := c.t.Transceive(ctx, apdu)
	if err != nil {
		c.sess = nil
		return nil, 0, fmt.Errorf("desfire: transceive %02X: %w", apdu[1], err)
	}
	data, sw, err := SplitResponse(resp)
	if err != nil {
		c.sess = nil
	}
	return data, sw, err
}

// expect sends one APDU and requires the status word want.
func (c *Card) expect(ctx context.Context, cmd byte, apdu []byte, want uint16) ([]byte, error) {
	data, sw, err := c.transmit(ctx, apdu)
	if err != nil {
		return nil, err
	}
	if sw != want {
		c.sess = nil
		return nil, &StatusError{Cmd: cmd, SW: sw}
	}
	return data, nil
}

// command sends a native command protected for mode (plain outside a session),
// follows 91AF chaining, checks the status and opens the response.
func (c *Card) command(ctx context.Context, cmd byte, header, data []byte, mode CommMode) ([]byte, error) {
	payload := append(append([]byte(nil), header...), data...)
	if c.sess != nil {
		var err error
		if payload, err = c.sess.SealCommand(cmd, header, data, mode); err != nil {
			c.sess = nil
			return nil, err
		}
	}
	apdu, err := WrapNative(cmd, payload)
	if err != nil {
		c.sess = nil
		return nil, err
	}
	var resp []byte
	for frames := 1; ; frames++ {
		if frames > maxFrames {
			c.sess = nil
			return nil, fmt.Errorf("%w: command %02X: more than %d response frames", ErrMalformed, cmd, maxFrames)
		}
		part, sw, err := c.transmit(ctx, apdu)
		if err != nil {
			return nil, err
		}
		resp = append(resp, part...)
		if sw == SWAdditional {
			apdu = []byte{NativeCLA, CmdAdditionalFrame, 0, 0, 0}
			continue
		}
		if sw != SWOK {
			c.sess = nil
			return nil, &StatusError{Cmd: cmd, SW: sw}
		}
		break
	}
	if c.sess == nil {
		return resp, nil
	}
	out, err := c.sess.OpenResponse(0x00, resp, mode)
	if err != nil {
		c.sess = nil
		return nil, fmt.Errorf("desfire: command %02X: %w", cmd, err)
	}
	return out, nil
}

func rotl(b []byte) []byte { return append(append([]byte(nil), b[1:]...), b[0]) }

// AuthenticateEV2First runs the three-pass AES authentication that opens a new
// transaction (TI chosen by the card, CmdCtr reset to 0) with key keyNo.
func (c *Card) AuthenticateEV2First(ctx context.Context, keyNo byte, key []byte) error {
	return c.authenticate(ctx, CmdAuthenticateEV2First, keyNo, key)
}

// AuthenticateEV2NonFirst re-authenticates inside the current transaction (for
// example with another key): new session keys, TI and CmdCtr kept.
func (c *Card) AuthenticateEV2NonFirst(ctx context.Context, keyNo byte, key []byte) error {
	if c.sess == nil {
		return fmt.Errorf("desfire: AuthenticateEV2NonFirst: %w", ErrNotAuthenticated)
	}
	return c.authenticate(ctx, CmdAuthenticateEV2NonFirst, keyNo, key)
}

func (c *Card) authenticate(ctx context.Context, cmd, keyNo byte, key []byte) error {
	prev := c.sess
	c.sess = nil
	if len(key) != KeySize {
		return fmt.Errorf("desfire: authentication key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("desfire: authentication key: %w", err)
	}
	first := []byte{keyNo, 0x00} // KeyNo, LenCap 0 (no PCDcap2 sent)
	if cmd == CmdAuthenticateEV2NonFirst {
		first = first[:1]
	}
	apdu, _ := WrapNative(cmd, first)
	encB, err := c.expect(ctx, cmd, apdu, SWAdditional)
	if err != nil {
		return err
	}
	if len(encB) != 16 {
		return fmt.Errorf("%w: E(RndB) of %d bytes", ErrMalformed, len(encB))
	}
	rndB := make([]byte, 16)
	block.Decrypt(rndB, encB) // CBC with a zero IV over one block
	rndA := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, rndA); err != nil {
		return fmt.Errorf("desfire: RndA: %w", err)
	}
	msg := append(append(make([]byte, 0, 32), rndA...), rotl(rndB)...)
	var zero [16]byte
	cipher.NewCBCEncrypter(block, zero[:]).CryptBlocks(msg, msg)
	apdu, _ = WrapNative(CmdAdditionalFrame, msg)
	enc, err := c.expect(ctx, cmd, apdu, SWOK)
	if err != nil {
		return err
	}
	want := 32
	if cmd == CmdAuthenticateEV2NonFirst {
		want = 16
	}
	if len(enc) != want {
		return fmt.Errorf("%w: authentication answer of %d bytes, want %d", ErrMalformed, len(enc), want)
	}
	plain := make([]byte, len(enc))
	cipher.NewCBCDecrypter(block, zero[:]).CryptBlocks(plain, enc)
	var ti [4]byte
	rndAr := plain
	if cmd == CmdAuthenticateEV2First {
		copy(ti[:], plain[0:4])
		rndAr = plain[4:20]
	} else {
		ti = prev.TI
	}
	if subtle.ConstantTimeCompare(rotl(rndA), rndAr) != 1 {
		return fmt.Errorf("desfire: command %02X key %d: %w", cmd, keyNo, ErrCardCryptogram)
	}
	encKey, macKey, err := DeriveSessionKeys(key, rndA, rndB)
	if err != nil {
		return err
	}
	var ctr uint16
	if cmd == CmdAuthenticateEV2NonFirst {
		ctr = prev.CmdCtr
	}
	s, err := NewSession(encKey[:], macKey[:], ti, ctr)
	if err != nil {
		return err
	}
	s.KeyNo = keyNo
	if cmd == CmdAuthenticateEV2First {
		copy(s.PDcap2[:], plain[20:26])
		copy(s.PCDcap2[:], plain[26:32])
	}
	c.sess = s
	return nil
}

// SelectNTAG424Application selects the NTAG 424 DNA application by its ISO DF
// name (ISO SELECT, CLA 00). It ends any session.
func (c *Card) SelectNTAG424Application(ctx context.Context) error {
	c.sess = nil
	apdu := append([]byte{0x00, ISOSelectFile, 0x04, 0x0C, byte(len(NTAG424DFName))}, NTAG424DFName[:]...)
	apdu = append(apdu, 0x00)
	_, err := c.expect(ctx, ISOSelectFile, apdu, SWISOOK)
	return err
}

// SelectApplication selects a DESFire application (AID 000000 is the PICC level).
// It ends any session.
func (c *Card) SelectApplication(ctx context.Context, aid [3]byte) error {
	c.sess = nil
	_, err := c.command(ctx, CmdSelectApplication, nil, []byte{aid[0], aid[1], aid[2]}, Plain)
	return err
}

// Version is GetVersion's answer: the hardware and software parts (vendor, type,
// subtype, major, minor, storage size, protocol) and the production part (UID,
// batch number, week and year of production, and any later bytes).
type Version struct {
	Hardware   [7]byte
	Software   [7]byte
	Production []byte
}

// UID returns the 7-byte UID the production part starts with.
func (v Version) UID() []byte {
	if len(v.Production) < 7 {
		return nil
	}
	return v.Production[:7]
}

// GetVersion reads the card's version (MAC-protected inside a session).
func (c *Card) GetVersion(ctx context.Context) (Version, error) {
	var v Version
	b, err := c.command(ctx, CmdGetVersion, nil, nil, MAC)
	if err != nil {
		return v, err
	}
	if len(b) < 14+7 {
		return v, fmt.Errorf("%w: GetVersion answer of %d bytes", ErrMalformed, len(b))
	}
	copy(v.Hardware[:], b[0:7])
	copy(v.Software[:], b[7:14])
	v.Production = append([]byte(nil), b[14:]...)
	return v, nil
}

// GetCardUID reads the real UID (in full mode; needs a session), which a card
// with random ID hides from anticollision.
func (c *Card) GetCardUID(ctx context.Context) ([]byte, error) {
	if c.sess == nil {
		return nil, fmt.Errorf("desfire: GetCardUID: %w", ErrNotAuthenticated)
	}
	uid, err := c.command(ctx, CmdGetCardUID, nil, nil, Full)
	if err != nil {
		return nil, err
	}
	if len(uid) != 4 && len(uid) != 7 && len(uid) != 10 {
		return nil, fmt.Errorf("%w: UID of %d bytes", ErrMalformed, len(uid))
	}
	return uid, nil
}

// ReadData reads length bytes (0: to the end of the file) from offset of a
// standard data file in the file's communication mode.
func (c *Card) ReadData(ctx context.Context, fileNo byte, offset, length uint32, mode CommMode) ([]byte, error) {
	if offset > 0xFFFFFF || length > 0xFFFFFF {
		return nil, fmt.Errorf("desfire: ReadData offset %d or length %d beyond 24 bits", offset, length)
	}
	header := append(append([]byte{fileNo}, le24(offset)...), le24(length)...)
	data, err := c.command(ctx, CmdReadData, header, nil, mode)
	if err != nil {
		return nil, err
	}
	if length != 0 && uint32(len(data)) != length {
		return nil, fmt.Errorf("%w: ReadData returned %d bytes, asked %d", ErrMalformed, len(data), length)
	}
	return data, nil
}

// WriteData writes data at offset of a standard data file in the file's communication mode.
func (c *Card) WriteData(ctx context.Context, fileNo byte, offset uint32, data []byte, mode CommMode) error {
	if offset > 0xFFFFFF {
		return fmt.Errorf("desfire: WriteData offset %d beyond 24 bits", offset)
	}
	header := append(append([]byte{fileNo}, le24(offset)...), le24(uint32(len(data)))...)
	_, err := c.command(ctx, CmdWriteData, header, data, mode)
	return err
}

// GetFileCounters returns the SDM read counter of an NTAG 424 DNA file with
// secure dynamic messaging enabled (full mode, needs the SDMCtrRet key's session).
func (c *Card) GetFileCounters(ctx context.Context, fileNo byte) (uint32, error) {
	if c.sess == nil {
		return 0, fmt.Errorf("desfire: GetFileCounters: %w", ErrNotAuthenticated)
	}
	b, err := c.command(ctx, CmdGetFileCounters, []byte{fileNo}, nil, Full)
	if err != nil {
		return 0, err
	}
	if len(b) != 5 {
		return 0, fmt.Errorf("%w: GetFileCounters answer of %d bytes", ErrMalformed, len(b))
	}
	return LE24(b[0:3]), nil
}

// GetFileSettings returns a file's settings as the card encodes them (MAC mode).
func (c *Card) GetFileSettings(ctx context.Context, fileNo byte) ([]byte, error) {
	return c.command(ctx, CmdGetFileSettings, []byte{fileNo}, nil, MAC)
}

// ChangeFileSettings replaces a file's settings (FileOption ‖ AccessRights ‖
// SDM options...), sent in full mode; it needs the file's Change access right.
func (c *Card) ChangeFileSettings(ctx context.Context, fileNo byte, settings []byte) error {
	if c.sess == nil {
		return fmt.Errorf("desfire: ChangeFileSettings: %w", ErrNotAuthenticated)
	}
	_, err := c.command(ctx, CmdChangeFileSettings, []byte{fileNo}, settings, Full)
	return err
}

// GetKeyVersion returns the version byte of key keyNo.
func (c *Card) GetKeyVersion(ctx context.Context, keyNo byte) (byte, error) {
	b, err := c.command(ctx, CmdGetKeyVersion, []byte{keyNo}, nil, MAC)
	if err != nil {
		return 0, err
	}
	if len(b) != 1 {
		return 0, fmt.Errorf("%w: GetKeyVersion answer of %d bytes", ErrMalformed, len(b))
	}
	return b[0], nil
}

// CRC32NK is the CRC the card checks over a new key in ChangeKey: the IEEE
// CRC-32 without its final inversion (JAMCRC), little-endian.
func CRC32NK(key []byte) [4]byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], ^crc32.ChecksumIEEE(key))
	return b
}

// ChangeKey sets key keyNo to newKey with version, in full mode. Changing the
// key the session was authenticated with sends NewKey ‖ KeyVer and ends the
// session (the card answers without a MAC); changing another key sends
// (NewKey ⊕ OldKey) ‖ KeyVer ‖ CRC32NK(NewKey), so oldKey must be the key's
// current value. On DESFire's PICC level keyNo carries the key type in its top
// bits (0x80 for AES); they are kept as given.
func (c *Card) ChangeKey(ctx context.Context, keyNo byte, oldKey, newKey []byte, version byte) error {
	if c.sess == nil {
		return fmt.Errorf("desfire: ChangeKey: %w", ErrNotAuthenticated)
	}
	if len(newKey) != KeySize {
		return fmt.Errorf("desfire: ChangeKey: new key must be %d bytes", KeySize)
	}
	same := keyNo&0x3F == c.sess.KeyNo&0x3F
	var data []byte
	if same {
		data = append(append(make([]byte, 0, 17), newKey...), version)
	} else {
		if len(oldKey) != KeySize {
			return fmt.Errorf("desfire: ChangeKey: old key must be %d bytes", KeySize)
		}
		data = make([]byte, KeySize, KeySize+5)
		subtle.XORBytes(data, newKey, oldKey)
		crc := CRC32NK(newKey)
		data = append(append(data, version), crc[:]...)
	}
	if !same {
		_, err := c.command(ctx, CmdChangeKey, []byte{keyNo}, data, Full)
		return err
	}
	payload, err := c.sess.SealCommand(CmdChangeKey, []byte{keyNo}, data, Full)
	if err != nil {
		c.sess = nil
		return err
	}
	c.sess = nil // the card ends the session whatever the outcome
	apdu, err := WrapNative(CmdChangeKey, payload)
	if err != nil {
		return err
	}
	resp, err := c.expect(ctx, CmdChangeKey, apdu, SWOK)
	if err != nil {
		return err
	}
	if len(resp) != 0 {
		return fmt.Errorf("%w: ChangeKey of the session key answered %d bytes", ErrMalformed, len(resp))
	}
	return nil
}

// KeySettings is GetKeySettings' answer: the settings byte and the number of
// keys with the key type in its top bits (0x80: AES).
type KeySettings struct {
	Settings byte
	MaxKeys  byte
}

// GetKeySettings reads the key settings of the selected application (or PICC).
func (c *Card) GetKeySettings(ctx context.Context) (KeySettings, error) {
	b, err := c.command(ctx, CmdGetKeySettings, nil, nil, MAC)
	if err != nil {
		return KeySettings{}, err
	}
	if len(b) != 2 {
		return KeySettings{}, fmt.Errorf("%w: GetKeySettings answer of %d bytes", ErrMalformed, len(b))
	}
	return KeySettings{Settings: b[0], MaxKeys: b[1]}, nil
}

// ChangeKeySettings replaces the key settings byte (full mode, needs the
// application's or PICC's master key session).
func (c *Card) ChangeKeySettings(ctx context.Context, settings byte) error {
	if c.sess == nil {
		return fmt.Errorf("desfire: ChangeKeySettings: %w", ErrNotAuthenticated)
	}
	_, err := c.command(ctx, CmdChangeKeySettings, nil, []byte{settings}, Full)
	return err
}

// CreateApplication creates a DESFire application with numKeys AES keys (all
// zero, version 0) and the given key settings; on the PICC level, MAC mode in a
// session, plain otherwise (a factory PICC lets anyone create applications).
func (c *Card) CreateApplication(ctx context.Context, aid [3]byte, keySettings, numKeys byte) error {
	if numKeys == 0 || numKeys > 14 {
		return fmt.Errorf("desfire: CreateApplication: %d keys (1 to 14)", numKeys)
	}
	_, err := c.command(ctx, CmdCreateApplication, nil, []byte{aid[0], aid[1], aid[2], keySettings, 0x80 | numKeys}, MAC)
	return err
}

// CreateStdDataFile creates a standard data file in the selected application:
// communication mode (0 plain, 1 MAC, 3 full), access rights (Read, Write,
// ReadWrite, Change as four nibbles: RW|Ch in the first byte, R|W in the second)
// and size.
func (c *Card) CreateStdDataFile(ctx context.Context, fileNo, commSettings byte, access [2]byte, size uint32) error {
	if size == 0 || size > 0xFFFFFF {
		return fmt.Errorf("desfire: CreateStdDataFile: size %d", size)
	}
	data := append([]byte{fileNo, commSettings, access[0], access[1]}, le24(size)...)
	_, err := c.command(ctx, CmdCreateStdDataFile, nil, data, MAC)
	return err
}
