// Package hello is the tiny HTTP server that the serving and cold-start
// measurements run: every request gets "hello\n".
package hello

import (
	"net"
	"net/http"
	"time"
)

// Body is what every response carries.
const Body = "hello\n"

// Handler answers every request with Body.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(Body))
	})
}

// Serve serves Handler on l until l fails. It takes ownership of l.
func Serve(l net.Listener) error {
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}
