package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/pki"
)

// TestDoorCertRevoke: `door-cert revoke --door` revokes the door's valid
// certificate in serve's store (audited as the command), writes crl.pem in
// the data folder listing it, signed by the CA; --serial names one; bad
// input names the flag.
func TestDoorCertRevoke(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca, err := enroll.LoadOrCreateCA(dir, server.CAName, time.Now())
	require.NoError(t, err)
	st, err := sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "One", TimeZone: "Europe/Brussels"}))
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: ca, Dir: dir, Certs: st.DoorCerts()})
	require.NoError(t, err)
	serials := map[string]string{}
	for _, door := range []string{"door-a", "door-b"} {
		require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: door, CenterID: "c1", Name: door}))
		key, err := enroll.NewKey()
		require.NoError(t, err)
		csr, err := enroll.NewCSR(key, door)
		require.NoError(t, err)
		certPEM, err := ca.SignDoorCSR(csr, door, enroll.DoorValidity, time.Now())
		require.NoError(t, err)
		require.NoError(t, rev.Issued(ctx, certPEM, false))
		c, err := pki.ParseCertificate(certPEM)
		require.NoError(t, err)
		fp, err := enroll.KeyFingerprint(c.PublicKey)
		require.NoError(t, err)
		require.NoError(t, st.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "t-" + door, Door: door, CreatedBy: "test",
			CreatedMs: time.Now().UnixMilli(), ExpiresMs: time.Now().Add(time.Hour).UnixMilli()}, "secret-0123456789abcdef0123456789abcdef-"+door))
		_, err = st.RedeemEnrollment(ctx, "secret-0123456789abcdef0123456789abcdef-"+door, store.DoorKey{KeySHA256: fp, EnrolledMs: time.Now().UnixMilli()})
		require.NoError(t, err)
		serials[door] = c.SerialNumber.Text(16)
	}
	require.NoError(t, st.Close())

	listed := func() []string {
		raw, err := os.ReadFile(filepath.Join(dir, enroll.CRLFile))
		require.NoError(t, err)
		crl, err := enroll.ParseCRL(raw)
		require.NoError(t, err)
		require.NoError(t, crl.CheckSignatureFrom(ca.Cert()))
		out := []string{}
		for _, e := range crl.RevokedCertificateEntries {
			out = append(out, e.SerialNumber.Text(16))
		}
		return out
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"door-cert", "revoke", "--door", "door-a", "--data", dir}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "revoked certificate "+serials["door-a"]+" of door door-a")
	require.Equal(t, []string{serials["door-a"]}, listed())

	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"door-cert", "revoke", "--serial", serials["door-b"], "--data", dir}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "revoked certificate "+serials["door-b"]+" of door door-b")
	require.ElementsMatch(t, []string{serials["door-a"], serials["door-b"]}, listed())
	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"door-cert", "revoke", "--door", "door-a", "--data", dir}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "no valid certificate left")

	st, err = sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	page, err := st.ListAudit(ctx, store.AuditFilter{ActorKind: audit.KindSystem, ActorID: "door-cert-cli"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2, "one audit row per revocation")

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"door-cert", "revoke", "--data", dir}, 2, "give --door or --serial"},
		{[]string{"door-cert", "revoke", "--door", "door-a", "--serial", "ab", "--data", dir}, 2, "give --door or --serial"},
		{[]string{"door-cert", "revoke", "--door", "nope", "--data", dir}, 1, "--door nope"},
		{[]string{"door-cert", "revoke", "--serial", "ff", "--data", dir}, 1, "--serial ff"},
		{[]string{"door-cert", "revoke", "--door", "door-a", "--data", t.TempDir()}, 1, "holds no ca.pem"},
		{[]string{"door-cert", "list"}, 2, "usage"},
	} {
		errOut.Reset()
		require.Equal(t, tc.code, run(ctx, tc.args, &out, &errOut), "%v", tc.args)
		require.Contains(t, errOut.String(), tc.want, "%v", tc.args)
	}
}
