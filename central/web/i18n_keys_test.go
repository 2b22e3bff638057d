package web

import (
	"html/template"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/template/parse"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// templateKeys walks every template's parse tree and returns the catalog
// keys of {{t "key"}} calls and the prefixes of {{t (print "prefix." .X)}}.
func templateKeys(t *testing.T) (keys, prefixes map[string][]string) {
	t.Helper()
	keys, prefixes = map[string][]string{}, map[string][]string{}
	files, err := fs.Glob(templateFS, "templates/*.html")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	funcs := template.FuncMap{}
	cat, err := i18n.New()
	require.NoError(t, err)
	for k, f := range cat.Locale(i18n.English).FuncMap(nil, nil) {
		funcs[k] = f
	}
	for k, f := range templateFuncs() {
		funcs[k] = f
	}
	for _, file := range files {
		tmpl, err := template.New("x").Funcs(funcs).ParseFS(templateFS, file)
		require.NoError(t, err, file)
		for _, tt := range tmpl.Templates() {
			if tt.Tree == nil {
				continue
			}
			walk(tt.Tree.Root, func(cmd *parse.CommandNode) {
				if len(cmd.Args) < 2 {
					return
				}
				if id, ok := cmd.Args[0].(*parse.IdentifierNode); !ok || id.Ident != "t" {
					return
				}
				switch a := cmd.Args[1].(type) {
				case *parse.StringNode:
					keys[a.Text] = append(keys[a.Text], file)
				case *parse.PipeNode:
					if p := printPrefix(a); p != "" {
						prefixes[p] = append(prefixes[p], file)
						return
					}
					t.Errorf("%s: {{t %s}}: a key must be a string or (print \"prefix.\" value)", file, a)
				case *parse.FieldNode, *parse.ChainNode, *parse.VariableNode, *parse.DotNode:
					// A key carried in the data (a page's problem, the title): checked where Go sets it.
				default:
					t.Errorf("%s: {{t %s}}: unexpected key argument", file, a)
				}
			})
		}
	}
	return keys, prefixes
}

// printPrefix returns "prefix." of (print "prefix." ...), or "".
func printPrefix(p *parse.PipeNode) string {
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) < 2 {
		return ""
	}
	c := p.Cmds[0]
	if id, ok := c.Args[0].(*parse.IdentifierNode); !ok || id.Ident != "print" {
		return ""
	}
	if s, ok := c.Args[1].(*parse.StringNode); ok {
		return s.Text
	}
	return ""
}

func walk(n parse.Node, f func(*parse.CommandNode)) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walk(c, f)
		}
	case *parse.ActionNode:
		walk(x.Pipe, f)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, c := range x.Cmds {
			walk(c, f)
		}
	case *parse.CommandNode:
		f(x)
		for _, a := range x.Args {
			walk(a, f)
		}
	case *parse.IfNode:
		walk(x.Pipe, f)
		walk(x.List, f)
		walk(x.ElseList, f)
	case *parse.RangeNode:
		walk(x.Pipe, f)
		walk(x.List, f)
		walk(x.ElseList, f)
	case *parse.WithNode:
		walk(x.Pipe, f)
		walk(x.List, f)
		walk(x.ElseList, f)
	case *parse.TemplateNode:
		walk(x.Pipe, f)
	}
}

// dynamicKeys are the values each (print "prefix." .X) key can take.
func dynamicKeys() map[string][]string {
	str := func(xs ...string) []string { return xs }
	out := map[string][]string{
		"state.":              str(protocol.StateOnline, protocol.StateOffline, "unknown"),
		"role.":               str(string(store.RoleAdmin), string(store.RoleManager), string(store.RoleTechnician)),
		"staff.status.":       str(string(store.AccountInvited), string(store.AccountActive), string(store.AccountDisabled)),
		"member_status.":      str(domain.MemberActive, domain.MemberSuspended),
		"booking_status.":     str(domain.BookingConfirmed, domain.BookingCancelled, domain.BookingReleased),
		"class.":              str(string(credit.ClassNomadic), string(credit.ClassCrossCenter), string(credit.ClassHome)),
		"source.":             str(string(credit.SourceBooking), string(credit.SourceWalkIn), string(credit.SourceBookingAndWalkIn)),
		"console.rules_from.": str("center", "network", "default"),
		"console.wd.":         str("0", "1", "2", "3", "4", "5", "6"),
		"why.":                str("", string(credit.WhyHomeCenter), string(credit.WhyNoShow), string(credit.WhyNoPass), string(credit.WhyStaff), string(credit.WhyClosed)),
		"billing.type_":       str("380", "381", "389", "261"), // invoice.TypeCode of issued documents
		"billing.party_":      str(string(billing.PartyMember), string(billing.PartyCenter), string(billing.PartyCooperative)),
	}
	out["site.error."], out["site.field."] = siteErrorCodes(), siteFields()
	for _, k := range eventKinds() {
		out["kind."] = append(out["kind."], string(k))
	}
	maps.Copy(out, opsDynamicKeys())
	for _, r := range reasonCodes() {
		out["reason."] = append(out["reason."], string(r))
	}
	return out
}

// goKeys are the catalog keys the Go code of the package names: page
// errors, login problems, T calls and the pages' titles.
func goKeys(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`(?:pageErr\([^,]+, |showLogin\([^"]*|\.T\()"([a-z_][a-z0-9_.]*)"`)
	files, err := fs.Glob(os.DirFS("."), "*.go")
	require.NoError(t, err)
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if strings.HasSuffix(m[1], ".") {
				continue // a prefix completed from data: see dynamicKeys and below
			}
			out = append(out, m[1])
		}
	}
	for _, p := range pageNames() {
		out = append(out, "title."+p)
	}
	for _, a := range []string{protocol.ActionUnlock, protocol.ActionRelock, protocol.ActionResync} {
		out = append(out, "door.action."+a)
	}
	for _, s := range []string{"400", "401", "403", "404", "409", "422", "429", "500", "503", "other"} {
		out = append(out, "status."+s)
	}
	require.Contains(t, out, "error.no_door", "the scan finds the page errors")
	return out
}

// TestTemplateKeys: every key a template or the package's Go code uses
// exists in every language, including each value of the keys built from
// data (event kinds, reason codes, door states, roles, statuses, visit
// classes), and the live page's words.
func TestTemplateKeys(t *testing.T) {
	cat, err := i18n.New()
	require.NoError(t, err)
	keys, prefixes := templateKeys(t)
	require.Contains(t, keys, "layout.logout", "the walk finds the layout's keys")
	require.Contains(t, prefixes, "kind.", "the walk finds the keys built from data")
	dyn := dynamicKeys()
	for _, l := range i18n.Langs() {
		for k, files := range keys {
			assert.True(t, cat.Has(l, k), "%s: key %q (used in %v) is missing", l, k, files)
		}
		for p, files := range prefixes {
			vals, ok := dyn[p]
			if !assert.True(t, ok, "%s: the values of %q… (used in %v) are not listed in dynamicKeys", l, p, files) {
				continue
			}
			for _, v := range vals {
				assert.True(t, cat.Has(l, p+v), "%s: key %q is missing", l, p+v)
			}
		}
		for _, k := range goKeys(t) {
			assert.True(t, cat.Has(l, k), "%s: key %q (Go code) is missing", l, k)
		}
	}
	for _, k := range []billing.PriceKind{billing.PriceNomadicHour, billing.PriceCenterHour, billing.PriceRoomHour, billing.PriceNoShow, billing.PriceMonthlyPass} {
		for _, l := range i18n.Langs() {
			assert.True(t, cat.Has(l, "billing.price."+string(k)), "%s: the dry run's missing price %s has no words", l, k)
		}
	}
	for _, c := range billing.MissingCodes() {
		for _, l := range i18n.Langs() {
			assert.True(t, cat.Has(l, "billing.why_"+string(c)), "%s: the dry run's blocker %s has no words", l, c)
		}
	}
	for _, r := range reasonCodes() {
		assert.True(t, r.Known(), "reason %s is a protocol reason", r)
		assert.Equal(t, r.Text(), cat.Message(i18n.English, "reason."+string(r)), "English reason text is the protocol's")
	}
}
