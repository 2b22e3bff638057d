package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Fuzz targets for every decoder and for signature verification. Their seed
// corpus is committed under testdata/fuzz; regenerate it with
//
//	SWC_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./shared/protocol

// checkRejected asserts the properties every rejection must have.
func checkRejected(t *testing.T, in []byte, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *protocol.Error", err, err)
	}
	if Code(err) == "other" {
		t.Fatalf("error %v has no stable code", err)
	}
	if len(in) > MaxMessageSize && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize input (%d bytes) rejected as %v, want ErrTooLarge", len(in), err)
	}
}

func mustAcceptSize(t *testing.T, in []byte) {
	t.Helper()
	if len(in) > MaxMessageSize {
		t.Fatalf("accepted an oversize message of %d bytes", len(in))
	}
}

func seedBatches() [][]byte {
	good, _ := Encode(sampleBatch())
	return [][]byte{
		good,
		[]byte(`{"v":1,"door":"d","events":[{"seq":1,"time_ms":0,"trusted":false,"boot":"b","kind":"door_forced","wl_version":0}]}`),
		[]byte(`{"v":1,"door":"d","events":[{"seq":1,"time_ms":1,"boot":"b","kind":"remote_unlock","command":"c1","wl_version":0}]}`),
		[]byte(`{"v":1,"door":"d","events":[{"seq":1,"time_ms":1,"boot":"b","kind":"tap","uid":"04A1B2C3","reason":"denied_auth_failed","read_ctr":5,"wl_version":2},{"seq":2,"time_ms":1,"boot":"b","kind":"suspected_clone","uid":"04A1B2C3","read_ctr":5,"wl_version":2}]}`),
		[]byte(`{"v":2}`),
		[]byte(`{"v":1,"door":"d","events":[{"seq":"x"}]}`),
		[]byte(`{"v":1,"door":"d","events":[`),
	}
}

func FuzzDecodeEventBatch(f *testing.F) {
	for _, s := range seedBatches() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeEventBatch(in)
		if err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode of an accepted batch: %v", err)
		}
		again, err := DecodeEventBatch(enc)
		if err != nil {
			t.Fatalf("re-encoded batch rejected: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("round trip changed the batch:\n%v\n%v", m, again)
		}
	})
}

func seedSmall() [][]byte {
	ack, _ := Encode(&Ack{V: Version, Door: "door-a", Through: 42, ServerMs: ms(testNow)})
	st, _ := Encode(&Status{V: Version, Door: "door-a", State: StateOnline, TimeMs: ms(testNow), WLVersion: 3, OutboxDepth: 2, DoorState: "locked"})
	sr, _ := Encode(&SyncRequest{V: Version, Door: "door-a", From: 9})
	return [][]byte{ack, st, sr, []byte(`{"v":1,"door":"door-a","state":"offline"}`), []byte(`{}`), []byte(`null`)}
}

func FuzzDecodeAck(f *testing.F) {
	for _, s := range seedSmall() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := DecodeAck(in); err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
	})
}

func FuzzDecodeStatus(f *testing.F) {
	for _, s := range seedSmall() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := DecodeStatus(in); err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	for _, s := range seedSmall() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := DecodeSyncRequest(in); err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
	})
}

// signedSeeds returns signed messages of one type and the set of bodies the
// test signer signed; a verifier may accept nothing else.
func signedSeeds(typ string) (msgs [][]byte, bodies map[string]bool) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	bodies = map[string]bool{}
	add := func(m []byte, err error) {
		if err != nil {
			panic(err)
		}
		body, err := keys.open(m, typ)
		if err != nil {
			panic(err)
		}
		bodies[string(body)] = true
		msgs = append(msgs, m)
	}
	switch typ {
	case TypeWhitelist:
		add(signer.SignWhitelist(sampleDelta()))
		secure := sampleDelta()
		secure.Version, secure.Base, secure.RequireSecure, secure.HeldOpenS = 9, 8, true, 5
		secure.Entries[0] = secureEntry()
		add(signer.SignWhitelist(secure))
		parts, err := signer.SignSnapshot(Whitelist{Door: "door-a", Version: 3, IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Hour)), Room: "r1", HeldOpenS: 45}, sampleEntries(3))
		for _, p := range parts {
			add(p, err)
		}
		expired := sampleDelta()
		expired.IssuedMs, expired.ExpiresMs = ms(testNow.Add(-2*time.Hour)), ms(testNow.Add(-time.Hour))
		add(signer.SignWhitelist(expired))
	case TypeCommand:
		add(signer.SignCommand(sampleCommand()))
		add(signer.SignCommand(&Command{ID: "c2", Door: "door-a", Action: ActionResync, IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Hour))}))
	}
	// A message signed by a key the door does not pin.
	other := NewSigner(testKey(2))
	if typ == TypeWhitelist {
		m, _ := other.SignWhitelist(sampleDelta())
		msgs = append(msgs, m)
	} else {
		m, _ := other.SignCommand(sampleCommand())
		msgs = append(msgs, m)
	}
	return msgs, bodies
}

func fuzzSigned(f *testing.F, typ string, open func(*KeyRing, []byte) error) {
	msgs, bodies := signedSeeds(typ)
	for _, m := range msgs {
		f.Add(m)
	}
	keys := NewKeyRing(testKey(1).Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := open(keys, in); err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
		body, err := keys.open(in, typ)
		if err != nil {
			t.Fatalf("accepted, but the envelope does not open: %v", err)
		}
		if !bodies[string(body)] {
			t.Fatalf("accepted a body the signer never signed: %q", body)
		}
	})
}

func FuzzOpenWhitelist(f *testing.F) {
	fuzzSigned(f, TypeWhitelist, func(k *KeyRing, in []byte) error {
		w, err := k.OpenWhitelist(in, testNow)
		if err != nil {
			return err
		}
		return w.CheckFor("door-a", 2)
	})
}

func FuzzOpenCommand(f *testing.F) {
	fuzzSigned(f, TypeCommand, func(k *KeyRing, in []byte) error {
		_, err := k.OpenCommand(in, "door-a", testNow)
		return err
	})
}

func seedCerts() [][]byte {
	req, _ := Encode(&CertRequest{V: Version, Door: "door-a", CSR: testCSR(1)})
	rep, _ := Encode(&CertReply{V: Version, Door: "door-a", Certificate: testCert(1)})
	refusal, _ := Encode(&CertReply{V: Version, Door: "door-a", Error: "door-a is not known"})
	enr, _ := Encode(sampleEnrollment())
	ereq, _ := Encode(&EnrollRequest{V: Version, Token: "swce_abc", CSR: testCSR(2)})
	return [][]byte{req, rep, refusal, enr, ereq,
		[]byte(`{"v":1,"door":"door-a","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}`),
		[]byte(`{"v":1,"door":"door-a","certificate":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"}`)}
}

// fuzzDecode checks a decoder: a rejection is a *protocol.Error with a
// stable code; what is accepted is within the size limit, re-encodes and
// decodes again to the same value.
func fuzzDecode[T any](f *testing.F, decode func([]byte) (*T, error)) {
	for _, s := range seedCerts() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decode(in)
		if err != nil {
			checkRejected(t, in, err)
			return
		}
		mustAcceptSize(t, in)
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode of an accepted message: %v", err)
		}
		again, err := decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		if fmt.Sprint(*again) != fmt.Sprint(*m) {
			t.Fatalf("round trip changed the message:\n%v\n%v", *m, *again)
		}
	})
}

func FuzzDecodeCertRequest(f *testing.F)   { fuzzDecode(f, DecodeCertRequest) }
func FuzzDecodeCertReply(f *testing.F)     { fuzzDecode(f, DecodeCertReply) }
func FuzzDecodeEnrollment(f *testing.F)    { fuzzDecode(f, DecodeEnrollment) }
func FuzzDecodeEnrollRequest(f *testing.F) { fuzzDecode(f, DecodeEnrollRequest) }

// TestWriteFuzzCorpus writes the seeds above as the committed corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SWC_WRITE_CORPUS") != "1" {
		t.Skip("set SWC_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	wl, _ := signedSeeds(TypeWhitelist)
	cmd, _ := signedSeeds(TypeCommand)
	sets := map[string][][]byte{
		"FuzzDecodeEventBatch":    seedBatches(),
		"FuzzDecodeAck":           seedSmall(),
		"FuzzDecodeStatus":        seedSmall(),
		"FuzzDecodeSyncRequest":   seedSmall(),
		"FuzzOpenWhitelist":       wl,
		"FuzzOpenCommand":         cmd,
		"FuzzDecodeCertRequest":   seedCerts(),
		"FuzzDecodeCertReply":     seedCerts(),
		"FuzzDecodeEnrollment":    seedCerts(),
		"FuzzDecodeEnrollRequest": seedCerts(),
	}
	for name, seeds := range sets {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
