package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// opsDynamicKeys are the values of the console-ops pages' keys built from
// data (see dynamicKeys).
func opsDynamicKeys() map[string][]string {
	out := map[string][]string{
		"console.alerts.state.":     {"open", "resolved", "all"},
		"console.cmd.":              {store.CommandSent, store.CommandQueued, store.CommandDone, store.CommandFailed, store.CommandExpired},
		"console.count.":            countOrder(),
		"console.settings.no_show.": {string(credit.NoShowZero), string(credit.NoShowBooked)},
		"console.webhooks.event.":   {"raised", "resolved"},
		"door.action.":              {protocol.ActionUnlock, protocol.ActionRelock, protocol.ActionResync},
	}
	for _, k := range store.AlertKinds() {
		out["console.alert."] = append(out["console.alert."], string(k))
	}
	for _, a := range []audit.Action{audit.Create, audit.Update, audit.Delete, audit.Revoke, audit.RotateSecret, audit.Redeem, audit.Import, audit.Close, audit.Approve} {
		out["console.audit.act."] = append(out["console.audit.act."], string(a))
	}
	return out
}

// TestOpsKeys: every console.* key the console-ops Go code names (passed
// on to T through helpers, which TestTemplateKeys' scan does not see) and
// every settings field's label exist in the three languages.
func TestOpsKeys(t *testing.T) {
	cat, err := i18n.New()
	require.NoError(t, err)
	files, err := filepath.Glob("console_*.go")
	require.NoError(t, err)
	re := regexp.MustCompile(`"(console\.[a-z_.]*[a-z_])"`)
	var keys []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if strings.HasSuffix(m[1], "_") {
				continue // a prefix the code completes: its keys are listed below
			}
			keys = append(keys, m[1])
		}
	}
	require.Contains(t, keys, "console.settings.bad_number", "the scan finds the keys given to helpers")
	for _, f := range settingsNumFields() {
		keys = append(keys, fieldLabel(f.name))
	}
	for _, f := range []string{"default_rate_cents", "center_rates.c1", "currency", "no_show", "effective_from", "note"} {
		keys = append(keys, fieldLabel(f))
	}
	for _, st := range []string{domain.MemberActive, domain.MemberSuspended} {
		keys = append(keys, "console.member_"+st) // memberStatus's message
	}
	for _, l := range i18n.Langs() {
		for _, k := range keys {
			assert.True(t, cat.Has(l, k), "%s: key %q is missing", l, k)
		}
	}
}
