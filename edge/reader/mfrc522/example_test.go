package mfrc522_test

import (
	"context"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// The door agent's development set-up: the driver on the simulator, a badge
// tapped for 300 ms from another goroutine.
func ExampleDev_Next() {
	sim := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
	dev, err := mfrc522.New(sim, nil) // on a Pi: mfrc522.Open(spiPort, &mfrc522.Options{Reset: rstPin})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()

	uid := []byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80}
	if _, err := sim.PresentFor(mfrc522sim.NewCard(uid, mfrc522sim.MifareUltralight), 300*time.Millisecond); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	card, err := dev.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(card)
	time.Sleep(400 * time.Millisecond) // let the card go before Close
	// Output: UID 048E216A5C3B80 ATQA 4400 SAK 00 (MIFARE Ultralight / NTAG)
}

// A DESFire-like card: read as a tap, then an ISO/IEC 14443-4 session with
// it (an echo application here) and S(DESELECT).
func ExampleDev_OpenISODEP() {
	sim := mfrc522sim.New(mfrc522sim.Options{})
	dev, err := mfrc522.New(sim, &mfrc522.Options{Clock: sim})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	spec := mfrc522sim.NewCard([]byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80}, mfrc522sim.DESFire)
	spec.ISODEP = &mfrc522sim.ISODEP{App: echoApp{}}
	if _, err := sim.Present(spec); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	card, err := dev.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := dev.OpenISODEP(ctx, card)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	resp, err := s.Transceive(ctx, []byte{0x90, 0x60, 0x00, 0x00, 0x00}) // DESFire GetVersion, wrapped
	fmt.Printf("FSC %d, FWT %s: % X %v\n", s.ATS().FSC, s.ATS().FWT.Round(time.Millisecond), resp, err)
	// Output: FSC 64, FWT 77ms: 90 60 00 00 00 90 00 <nil>
}

// echoApp is a loopback card application: it answers every APDU with the
// APDU itself followed by the status word 90 00.
type echoApp struct{}

func (echoApp) Transceive(apdu []byte) []byte {
	return append(append([]byte(nil), apdu...), 0x90, 0x00)
}
