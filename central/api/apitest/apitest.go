// Package apitest checks exchanges with the HTTP API against its OpenAPI
// document (central/api's openapi.json, OpenAPI 3.1, whose schemas
// kin-openapi validates as JSON Schema 2020-12). It is for tests only: the
// token API's tests serve their requests through Serve, the member API's
// (central/web) send theirs through a Transport.
//
// An exchange passes when its response matches the schema of its
// documented status (an undocumented status fails), a request the document
// says is invalid was refused (4xx or 5xx), and a request to a path or
// method the document lacks was refused. Read-only properties in a request
// are accepted and ignored, as the document's description says: a client
// sends back what it read.
package apitest

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

	"github.com/smartworkcenters/swc/central/api"
)

// router is openapi.json loaded and validated once; it is not changed
// after (the checks only read it).
var router = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("openapi.json does not load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not valid: %w", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	return r, nil
})

// Exchange is a request checked before it is served, waiting for its
// response.
type Exchange struct {
	what     string
	routeErr error // the document has no such path or method
	in       *openapi3filter.RequestValidationInput
	reqErr   error // the document says the request is invalid
}

// Start checks req against the document before it is served: it reads the
// body and puts it back, so req can be served afterwards. Its error is the
// document's (it does not load); the request's own faults are reported by
// Finish, once the answer is known.
func Start(req *http.Request) (*Exchange, error) {
	r, err := router()
	if err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	ctx := context.Background()
	e := &Exchange{what: req.Method + " " + req.URL.RequestURI()}
	route, params, err := r.FindRoute(req.Clone(ctx))
	if err != nil {
		e.routeErr = err
		return e, nil
	}
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	e.in = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			ExcludeReadOnlyValidations: true}}
	e.reqErr = openapi3filter.ValidateRequest(ctx, e.in)
	return e, nil
}

// Finish checks the response the server gave.
func (e *Exchange) Finish(status int, header http.Header, body []byte) error {
	if e.routeErr != nil {
		if status < 400 {
			return fmt.Errorf("%s is not in openapi.json (%v) but answered %d", e.what, e.routeErr, status)
		}
		return nil
	}
	if e.reqErr != nil && status < 400 {
		return fmt.Errorf("%s: openapi.json says the request is invalid, the server answered %d: %w", e.what, status, e.reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: e.in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s answered %d %s: %w", e.what, status, truncate(body), err)
	}
	return nil
}

// Serve serves req with h into a recorder and fails t when the exchange
// does not match the document.
func Serve(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	e, err := Start(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if err := e.Finish(rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	return rec
}

// Transport is an http.RoundTripper that checks every exchange whose path
// is under api.Prefix; others pass unchecked. An exchange that does not
// match the document is the round trip's error, so the client's caller
// sees it.
type Transport struct {
	// Base sends the requests (nil: http.DefaultTransport).
	Base http.RoundTripper
}

// RoundTrip sends req through Base and checks the exchange.
func (tr Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !underPrefix(req.URL.Path) {
		return base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper leaves the caller's request alone
	e, err := Start(req)
	if err != nil {
		return nil, err
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the response body: %w", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := e.Finish(res.StatusCode, res.Header, body); err != nil {
		return nil, err
	}
	return res, nil
}

func underPrefix(path string) bool {
	return path == api.Prefix || strings.HasPrefix(path, api.Prefix+"/")
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}
