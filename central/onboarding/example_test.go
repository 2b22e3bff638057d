package onboarding_test

import (
	"fmt"

	"github.com/smartworkcenters/swc/central/onboarding"
)

// A CSV file of doors: the header names the columns, in any order; a row
// that does not read is a problem of its file and line, and the others are
// kept for the store's checks.
func ExampleBundle_AddCSV() {
	b := onboarding.NewBundle()
	b.AddFile("region/doors.csv", []byte("id,center_id,name,exit\n"+
		"gent-front,gent,Front door,\n"+
		"gent-out,gent,Exit reader,maybe\n"))
	fmt.Println(len(b.Doors), "door read")
	for _, p := range b.Problems().Problems {
		fmt.Println(p)
	}
	// Output:
	// 1 door read
	// region/doors.csv:3: exit: invalid: "maybe": want true or false
}

func ExampleParseHours() {
	h, err := onboarding.ParseHours("mon-fri 08:00-12:30 13:30-18:00; sat 09:00-12:00")
	fmt.Println(h[1], h[6], h[0], err)
	// Output: [{480 750} {810 1080}] [{540 720}] [] <nil>
}
