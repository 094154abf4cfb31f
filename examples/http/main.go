// Command http is a small HTTP server that works both socket-activated and
// started by hand. It answers every request with a greeting that says how it
// got its socket.
//
// Activated, it serves on the socket named "web" (hello-http.socket sets
// FileDescriptorName=web):
//
//	systemd-socket-activate -l 127.0.0.1:8080 --fdname=web ./http
//
// By hand, it listens itself:
//
//	./http --listen 127.0.0.1:8080
//
// On SIGTERM it answers every connection it accepted before it exits, so
// that a restart under load fails no request; the unanswered type says why
// http.Server.Shutdown alone is not enough.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-activation/activation"
)

func main() {
	addr := flag.String("listen", "sd-listen:web", "`address` to serve on: host:port to listen by hand, sd-listen:NAME for the socket named NAME passed by systemd")
	flag.Parse()
	log.SetFlags(0)
	// Stop on SIGTERM, as systemd asks.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := activation.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	how := origin(l)
	log.Printf("serving on %s (%s)", l.Addr(), how)

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello from go-activation: %s\n", how)
		}),
		// Also bounds how long a silent client delays the shutdown.
		ReadHeaderTimeout: 10 * time.Second,
	}
	pending := track(srv)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		log.Fatal(err)
	case <-ctx.Done():
	}

	// Stop accepting, answer every connection accepted, then exit.
	// Connections not accepted yet wait in the listen backlog of the
	// socket, which systemd keeps, for the next start.
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l.Close()
	// Serve returns once every connection it accepted is tracked.
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		log.Print(err)
	}
	if err := pending.wait(shutdown); err != nil {
		log.Print(err)
	}
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print(err)
	}
}

// unanswered tracks the connections a server accepted whose first request
// has not reached a handler yet.
//
// http.Server.Shutdown alone loses such requests: net/http closes a
// connection without an answer when it reads the request only after
// Shutdown began (golang/go#65802), and under load some connection is
// always in that window. So a stopping server closes its listener, waits
// until every accepted connection's first request reaches a handler, and
// only then calls Shutdown, which waits for the handlers.
type unanswered struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

type connKey struct{}

// track makes srv report its connections to a new unanswered. Call it
// before Serve.
func track(srv *http.Server) *unanswered {
	u := &unanswered{conns: map[net.Conn]bool{}}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		u.mu.Lock()
		defer u.mu.Unlock()
		switch state {
		case http.StateNew:
			u.conns[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(u.conns, c)
		}
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			u.mu.Lock()
			delete(u.conns, c)
			u.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
	return u
}

// wait waits until every connection's first request has reached a
// handler, or until ctx ends. The server's ReadHeaderTimeout bounds how
// long a silent client keeps its connection.
func (u *unanswered) wait(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		u.mu.Lock()
		n := len(u.conns)
		u.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d connections still without an answer: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

// origin says where l came from: an inherited fd, or a socket of our own.
func origin(l net.Listener) string {
	infos, err := activation.Inherited()
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range infos {
		if info.Claimed && info.LocalAddr != nil && info.LocalAddr.String() == l.Addr().String() {
			return fmt.Sprintf("socket-activated, fd %d named %q", info.FD, info.Name)
		}
	}
	return "listening by itself"
}
