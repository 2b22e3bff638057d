package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The demo's staff sign-in: an admin account with a known password and
// TOTP secret, made with `swc-central staff add` as an operator makes the
// first admin of a new network. Demo values only: the folder is thrown
// away at the end.
const (
	demoStaffEmail    = "admin@swc-demo.test"
	demoStaffPassword = "tulip-harbour-quartz-58"
	demoTOTPSecret    = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	demoMemberEmail   = "nora@example.org" // a nomadic member of the demo network
)

// staffLogin is what the demo prints for the staff sign-in.
type staffLogin struct {
	email, password, secret string
	codeCommand             string // prints the current TOTP code
}

// addStaff creates the demo's admin account in the central's data folder.
func addStaff(ctx context.Context, central, dir, data string) (staffLogin, error) {
	pw := filepath.Join(dir, "staff-password")
	if err := os.WriteFile(pw, []byte(demoStaffPassword+"\n"), 0o600); err != nil {
		return staffLogin{}, err
	}
	cmd := exec.CommandContext(ctx, central, "staff", "add", "--data", data, "--email", demoStaffEmail, "--name", "Demo admin",
		"--role", "admin", "--password-file", pw, "--totp-secret", demoTOTPSecret)
	if out, err := cmd.CombinedOutput(); err != nil {
		return staffLogin{}, fmt.Errorf("swc-central staff add: %w: %s", err, out)
	}
	return staffLogin{email: demoStaffEmail, password: demoStaffPassword, secret: demoTOTPSecret,
		codeCommand: central + " staff code --totp-secret " + demoTOTPSecret}, nil
}
