package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
)

// openAPIRouter is openapi.json loaded once (OpenAPI 3.1: kin-openapi
// validates its schemas as JSON Schema 2020-12), with its relative server
// URL made absolute for the router.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: "http://example.com" + api.Prefix}}
	return gorillamux.NewRouter(doc)
})

// checkOpenAPI validates an exchange with the API against openapi.json:
// the request before it is served, the response after (call the returned
// function with the recorder). See validateExchange.
func checkOpenAPI(t *testing.T, req *http.Request) func(rec *httptest.ResponseRecorder) {
	t.Helper()
	check, err := validateExchange(req)
	require.NoError(t, err)
	return func(rec *httptest.ResponseRecorder) {
		t.Helper()
		require.NoError(t, check(rec))
	}
}

// validateExchange reads req (and puts its body back) and returns the
// check of its response: the response must match the schema of its
// documented status (an undocumented status fails); a request the
// document says is invalid must be refused (4xx), and a request it
// answers with success must be valid; an undocumented path or method
// must be refused.
func validateExchange(req *http.Request) (func(rec *httptest.ResponseRecorder) error, error) {
	router, err := openAPIRouter()
	if err != nil {
		return nil, fmt.Errorf("openapi.json does not load: %w", err)
	}
	var body []byte
	if req.Body != nil {
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	what := req.Method + " " + req.URL.RequestURI()
	route, params, routeErr := router.FindRoute(req.Clone(context.Background()))
	if routeErr != nil {
		return func(rec *httptest.ResponseRecorder) error {
			if rec.Code < 400 {
				return fmt.Errorf("%s is not in openapi.json (%v) but answered %d", what, routeErr, rec.Code)
			}
			return nil
		}, nil
	}
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		// Read-only properties in a request are accepted and ignored (the
		// document's description says so): a client sends back what it read.
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, ExcludeReadOnlyValidations: true}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	return func(rec *httptest.ResponseRecorder) error {
		if reqErr != nil && rec.Code < 400 {
			return fmt.Errorf("%s: openapi.json says the request is invalid, the server answered %d: %w", what, rec.Code, reqErr)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			return fmt.Errorf("%s answered %d %s: %w", what, rec.Code, truncate(rec.Body.Bytes()), err)
		}
		return nil
	}, nil
}

// TestOpenAPICheckBites: the check the fixture runs on every exchange
// refuses a body off its schema, an undocumented status, a success for an
// invalid request and an undocumented route, and passes a true exchange.
func TestOpenAPICheckBites(t *testing.T) {
	reply := func(code int, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(code)
		rec.WriteString(body)
		return rec
	}
	center := `{"id":"c1","name":"Gent","time_zone":"Europe/Brussels"}`
	for _, tc := range []struct {
		name, method, path, body string
		rec                      *httptest.ResponseRecorder
		says                     string
	}{
		{"body off its schema", "GET", "/centers/c1", "", reply(200, `{"id":5}`), "doesn't match schema"},
		{"undocumented status", "GET", "/centers/c1", "", reply(418, `{"code":"teapot","message":"no"}`), "status is not supported"},
		{"error body off its schema", "GET", "/centers/c1", "", reply(404, `{"error":"gone"}`), "doesn't match schema"},
		{"invalid request served", "POST", "/centers", `{"name":5}`, reply(201, center), "says the request is invalid"},
		{"undocumented route served", "GET", "/nowhere", "", reply(200, `{}`), "is not in openapi.json"},
		{"true exchange", "GET", "/centers/c1", "", reply(200, center), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, api.Prefix+tc.path, rd)
			if rd != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			check, err := validateExchange(req)
			require.NoError(t, err)
			err = check(tc.rec)
			if tc.says == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.says)
		})
	}
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}
