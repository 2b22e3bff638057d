// Command swc-central is the cooperative's central service: booking source of
// truth, whitelist compiler, event ingest and hours settlement.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "swc-central: the central service is being built (see the central core issue); no command is available yet")
	os.Exit(2)
}
