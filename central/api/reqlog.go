package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/store"
)

// reqInfo is what handlers tell the request log about the caller.
type reqInfo struct {
	role  store.Role
	token string
}

type reqInfoKey struct{}

// SetCaller records the authenticated caller of the request for its log
// line (see LogRequests). Without LogRequests it does nothing.
func SetCaller(ctx context.Context, tk store.Token) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.role, ri.token = tk.Role, tk.ID
	}
}

// quiet reports the paths logged at debug level: probes and scrapes.
func quiet(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// LogRequests wraps h so that every request gets one structured log line
// when it ends: method, path, status, duration, bytes, and the caller's
// role and token id when a handler called SetCaller. Probes and scrapes
// are logged at debug level.
func LogRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		lw := &logWriter{ResponseWriter: w}
		h.ServeHTTP(lw, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri)))
		if lw.status == 0 {
			lw.status = http.StatusOK
		}
		level := slog.LevelInfo
		if quiet(r.URL.Path) {
			level = slog.LevelDebug
		}
		log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", lw.status),
			slog.Duration("duration", time.Since(start)), slog.Int64("bytes", lw.bytes),
			slog.String("role", string(ri.role)), slog.String("token", ri.token), slog.String("remote", r.RemoteAddr))
	})
}

// logWriter records the status and size of a response. It passes Flush
// through (server-sent events) and unwraps for http.ResponseController.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *logWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
