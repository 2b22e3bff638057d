// Command swc-edge is the door agent that runs on a Raspberry Pi: it reads
// badges, decides offline, drives the door relay and syncs with the central
// service.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "swc-edge: the door agent is being built (see the edge core issue); no command is available yet")
	os.Exit(2)
}
