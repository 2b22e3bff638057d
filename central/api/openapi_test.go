package api_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
)

// TestOpenAPIMatchesRoutes keeps the document true: every registered route
// is documented, every documented operation is routed, and every $ref
// resolves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	raw := api.OpenAPI()
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	require.Equal(t, api.Prefix, doc.Servers[0].URL)

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		if path == "/me" || strings.HasPrefix(path, "/me/") {
			continue // the member API is served by the web layer (central/web, TestMemberAPIDocumented)
		}
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	srv := api.New(api.Config{})
	routed := map[string]bool{}
	for _, r := range srv.Routes() {
		key := r.Method + " " + r.Path
		require.False(t, routed[key], "%s registered twice", key)
		routed[key] = true
	}
	var undocumented, unrouted []string
	for k := range routed {
		if !documented[k] {
			undocumented = append(undocumented, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			unrouted = append(unrouted, k)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unrouted)
	require.Empty(t, undocumented, "routes missing from openapi.json")
	require.Empty(t, unrouted, "documented operations with no route")

	// Every $ref points at something in the document.
	var all map[string]any
	require.NoError(t, json.Unmarshal(raw, &all))
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					ref := c.(string)
					require.True(t, strings.HasPrefix(ref, "#/"), ref)
					var node any = all
					for _, part := range strings.Split(ref[2:], "/") {
						m, ok := node.(map[string]any)
						require.True(t, ok, "%s does not resolve", ref)
						node, ok = m[part]
						require.True(t, ok, "%s does not resolve", ref)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(all)

	// And it is what the server serves, without a token.
	f := newFixture(t)
	res := f.do("", "GET", "/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.JSONEq(t, string(raw), string(res.Body))
}
