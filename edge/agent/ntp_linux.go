package agent

import "golang.org/x/sys/unix"

// ntpSynced asks the kernel whether its clock is synchronised: adjtimex
// in read-only mode, STA_UNSYNC clear and no TIME_ERROR state.
func ntpSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
