package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The local API, on the loopback listener:
//
//	GET  /healthz          200 when the reader and store work, else 503
//	GET  /metrics          Prometheus text format
//	GET  /v1/status        Report as JSON
//	GET  /v1/outbox        pending events: ?after=SEQ&max=N (N ≤ 500)
//	POST /v1/whitelist     one signed whitelist message as the body
//	POST /v1/sim/tap       {"uid":"04A1B2C3"}: present a badge (sim only); with
//	                       "card" and "key_version", a simulated secure card (SimTap)
//	POST /v1/sim/reader    {"fault":true|false} (sim only)
//	POST /v1/sim/input     {"input":"contact"|"rex","active":bool} (sim only)
//	POST /v1/sim/burst     {"count":N,"uid":"04A1B2C3"}: N taps straight into the decision (sim only)
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.serveHealth)
	mux.Handle("GET /metrics", a.reg.Handler())
	mux.HandleFunc("GET /v1/status", a.serveStatus)
	mux.HandleFunc("GET /v1/outbox", a.serveOutbox)
	mux.HandleFunc("POST /v1/whitelist", a.serveWhitelist)
	mux.HandleFunc("POST /v1/sim/tap", a.serveSimTap)
	mux.HandleFunc("POST /v1/sim/reader", a.serveSimReader)
	mux.HandleFunc("POST /v1/sim/input", a.serveSimInput)
	mux.HandleFunc("POST /v1/sim/burst", a.serveSimBurst)
	return a.recoverHTTP(mux)
}

// recoverHTTP makes a panic in a handler what it is everywhere in the
// agent: the relay locks and the agent stops.
func (a *Agent) recoverHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.fail(fmt.Errorf("panic in HTTP handler %s %s: %v\n%s", r.Method, r.URL.Path, p, debug.Stack()))
				http.Error(w, "internal error; the door is locked and the agent stops", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// APIError is the body of every refused local API request.
type APIError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (a *Agent) reject(w http.ResponseWriter, status int, code string, err error) {
	a.m.rejected.With(code).Inc()
	a.log.Warn("local API request refused", "code", code, "err", err)
	writeJSON(w, status, APIError{Error: err.Error(), Code: code})
}

// decodeBody reads a small strict JSON body into v.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		return err
	}
	if len(body) > 4096 {
		return errors.New("body larger than 4096 bytes")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: data after the JSON object")
	}
	return nil
}

// Health is the body of /healthz.
type Health struct {
	Status string `json:"status"` // ok or degraded
	Reader string `json:"reader"`
	Store  string `json:"store"`
	Door   string `json:"door"`
}

func (a *Agent) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := Health{Status: "ok", Reader: "ok", Store: "ok", Door: string(a.door.Status().State)}
	code := http.StatusOK
	if !a.readerOK.Load() {
		h.Status, h.Reader, code = "degraded", "fault", http.StatusServiceUnavailable
	}
	if !a.storeOK.Load() {
		h.Status, h.Store, code = "degraded", "fault", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func (a *Agent) serveStatus(w http.ResponseWriter, r *http.Request) {
	rep, err := a.Report(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, APIError{Error: err.Error(), Code: "store"})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (a *Agent) serveOutbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, max := uint64(0), 100
	var err error
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			a.reject(w, http.StatusBadRequest, "bad_query", fmt.Errorf("after = %q: want an outbox position", s))
			return
		}
	}
	if s := q.Get("max"); s != "" {
		if max, err = strconv.Atoi(s); err != nil || max < 1 || max > protocol.MaxBatchEvents {
			a.reject(w, http.StatusBadRequest, "bad_query", fmt.Errorf("max = %q: want 1 to %d", s, protocol.MaxBatchEvents))
			return
		}
	}
	p, err := a.store.Pending(r.Context(), after, max)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, APIError{Error: err.Error(), Code: "store"})
		return
	}
	if p.Events == nil {
		p.Events = []protocol.Event{}
	}
	writeJSON(w, http.StatusOK, p.Events)
}

func (a *Agent) serveWhitelist(w http.ResponseWriter, r *http.Request) {
	msg, err := io.ReadAll(io.LimitReader(r.Body, protocol.MaxMessageSize+1))
	if err != nil {
		a.reject(w, http.StatusBadRequest, "read", err)
		return
	}
	res, err := a.ReceiveWhitelist(r.Context(), msg)
	if err != nil {
		a.m.rejected.With("whitelist").Inc()
		writeJSON(w, http.StatusUnprocessableEntity, APIError{Error: err.Error(), Code: protocol.Code(err)})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *Agent) needSim(w http.ResponseWriter) bool {
	if a.sim == nil {
		a.reject(w, http.StatusNotFound, "not_sim", errors.New("only with reader.driver = \"sim\""))
		return false
	}
	return true
}

// SimTap is the body of POST /v1/sim/tap.
type SimTap struct {
	UID string `json:"uid"`
	// Card, when set, presents a simulated secure card instead of a UID-only
	// badge: "ntag424dna" or "desfire_ev2" holding the door key of
	// KeyVersion that the door's whitelist lists for the badge (see
	// simSecureCard), or "clone", a magic card with the UID and no keys.
	Card string `json:"card,omitempty"`
	// KeyVersion is the key version the card holds; 0: the newest the
	// door knows for the badge.
	KeyVersion uint8 `json:"key_version,omitempty"`
}

// SimCardClone is the SimTap.Card of a magic UID clone.
const SimCardClone = "clone"

func (a *Agent) serveSimTap(w http.ResponseWriter, r *http.Request) {
	if !a.needSim(w) {
		return
	}
	var req SimTap
	if err := decodeBody(r, &req); err != nil {
		a.reject(w, http.StatusBadRequest, "bad_body", err)
		return
	}
	uid, err := protocol.ParseUID(req.UID)
	if err != nil {
		a.reject(w, http.StatusBadRequest, "bad_uid", fmt.Errorf("uid: %w", err))
		return
	}
	var card *desfiresim.Card
	secure, canSecure := a.sim.(SecureSimControls)
	if req.Card != "" {
		if !canSecure {
			a.reject(w, http.StatusBadRequest, "bad_card", errors.New("this simulated reader presents UID-only badges"))
			return
		}
		if card, err = a.simSecureCard(r.Context(), uid, req.Card, req.KeyVersion); err != nil {
			a.reject(w, http.StatusBadRequest, "bad_card", err)
			return
		}
	}
	wt := a.wait(uid)
	defer a.unwait(wt)
	if card != nil {
		err = secure.PresentCard(uid.Bytes(), card)
	} else {
		err = a.sim.Present(uid.Bytes())
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, APIError{Error: err.Error(), Code: "reader"})
		return
	}
	select {
	case out := <-wt.ch:
		if out.err != nil {
			writeJSON(w, http.StatusServiceUnavailable, APIError{Error: out.err.Error(), Code: "not_recorded"})
			return
		}
		writeJSON(w, http.StatusOK, out.ev)
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
		writeJSON(w, http.StatusGatewayTimeout, APIError{Error: "the tap was not decided within 30s", Code: "timeout"})
	}
}

// MaxSimBurst bounds one burst.
const MaxSimBurst = 100000

// SimBurst is the body of POST /v1/sim/burst: Count taps of the badge UID,
// decided and journaled one after the other as if the reader had returned
// them, to load a door with events (load and fault tests, the fleet
// simulator). The reader itself is exercised by /v1/sim/tap.
type SimBurst struct {
	Count int    `json:"count"`
	UID   string `json:"uid"`
}

// SimBurstResult says what a burst recorded.
type SimBurstResult struct {
	Recorded int    `json:"recorded"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

func (a *Agent) serveSimBurst(w http.ResponseWriter, r *http.Request) {
	if !a.needSim(w) {
		return
	}
	var req SimBurst
	if err := decodeBody(r, &req); err != nil {
		a.reject(w, http.StatusBadRequest, "bad_body", err)
		return
	}
	if req.Count < 1 || req.Count > MaxSimBurst {
		a.reject(w, http.StatusBadRequest, "bad_count", fmt.Errorf("count %d: want 1 to %d", req.Count, MaxSimBurst))
		return
	}
	uid, err := protocol.ParseUID(req.UID)
	if err != nil {
		a.reject(w, http.StatusBadRequest, "bad_uid", fmt.Errorf("uid: %w", err))
		return
	}
	var res SimBurstResult
	card := reader.Card{UID: uid.Bytes(), ATQA: [2]byte{0x04, 0x00}, SAK: 0x08}
	for i := 0; i < req.Count; i++ {
		if r.Context().Err() != nil {
			break
		}
		wt := a.wait(uid)
		a.handleCard(r.Context(), card)
		out := <-wt.ch
		a.unwait(wt)
		if out.err != nil {
			writeJSON(w, http.StatusServiceUnavailable, APIError{Error: out.err.Error(), Code: "not_recorded"})
			return
		}
		if res.Recorded == 0 {
			res.FirstSeq = out.ev.Seq
		}
		res.Recorded++
		res.LastSeq = out.ev.Seq
	}
	writeJSON(w, http.StatusOK, res)
}

// SimReader is the body of POST /v1/sim/reader.
type SimReader struct {
	Fault bool `json:"fault"`
}

func (a *Agent) serveSimReader(w http.ResponseWriter, r *http.Request) {
	if !a.needSim(w) {
		return
	}
	var req SimReader
	if err := decodeBody(r, &req); err != nil {
		a.reject(w, http.StatusBadRequest, "bad_body", err)
		return
	}
	var fault error
	if req.Fault {
		fault = errors.New("simulated reader fault: the chip does not answer")
	}
	a.sim.SetReaderFault(fault)
	if req.Fault {
		// Answer once the reader loop has seen the fault (it polls), so
		// that what a person or a test does next meets a failed reader.
		deadline := time.After(10 * time.Second)
		for a.readerOK.Load() {
			select {
			case <-deadline:
				writeJSON(w, http.StatusGatewayTimeout, APIError{Error: "the reader loop did not notice the fault within 10s", Code: "timeout"})
				return
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	writeJSON(w, http.StatusOK, req)
}

// SimInput is the body of POST /v1/sim/input.
type SimInput struct {
	Input  string `json:"input"`
	Active bool   `json:"active"`
}

func (a *Agent) serveSimInput(w http.ResponseWriter, r *http.Request) {
	if !a.needSim(w) {
		return
	}
	var req SimInput
	if err := decodeBody(r, &req); err != nil {
		a.reject(w, http.StatusBadRequest, "bad_body", err)
		return
	}
	if err := a.sim.SetInput(req.Input, req.Active); err != nil {
		a.reject(w, http.StatusBadRequest, "bad_input", err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}
