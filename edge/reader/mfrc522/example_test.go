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
