// Command notify-service is an HTTP server that runs as a Type=notify systemd
// service: it reports readiness and status, feeds the watchdog, and keeps its
// listening socket in the manager's file descriptor store, so that a restart
// (for an upgrade, say) refuses no connection.
//
// It takes its listener from, in order: the sockets passed to it named -name
// (by notify-service.socket, or by the file descriptor store after an earlier
// run), or else a new listener on -addr, which it then stores under -name.
//
//	notify-service -addr :8080 -name web
//
// See README.md for the unit files.
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
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/notify"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on when no socket named -name is passed")
	name := flag.String("name", "web", "name of the listening socket in LISTEN_FDNAMES and in the file descriptor store")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*addr, *name); err != nil {
		log.Fatal(err)
	}
}

func run(addr, name string) error {
	// Before READY=1: from then on the manager may stop the service at any
	// time.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, append(stopSignals, reloadSignals...)...)

	listeners, err := listen(addr, name)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from pid %d\n", os.Getpid())
	})
	srv := &http.Server{
		Handler: mux,
		// Also bounds how long a silent client delays the shutdown.
		ReadHeaderTimeout: 10 * time.Second,
	}
	pending := track(srv)

	var serving sync.WaitGroup
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		serving.Add(1)
		go func(l net.Listener) {
			defer serving.Done()
			// shutdown closes l, which ends Serve with net.ErrClosed.
			if err := srv.Serve(l); !errors.Is(err, net.ErrClosed) {
				serveErr <- err
			}
		}(l)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	watchdog := make(chan error, 1)
	go func() { watchdog <- notify.WatchdogLoop(ctx) }()

	report(notify.Ready())
	report(notify.Status(fmt.Sprintf("serving on %s", listeners[0].Addr())))

	for {
		select {
		case sig := <-signals:
			if isReload(sig) {
				// Nothing to reload here but the protocol: a real server
				// rereads its configuration between these two calls.
				report(notify.Reloading())
				report(notify.Ready())
				continue
			}
			return shutdown(srv, listeners, &serving, pending)
		case err := <-serveErr:
			report(notify.Status("failed: " + err.Error()))
			return fmt.Errorf("serving: %w", err)
		case err := <-watchdog:
			if err != nil {
				return fmt.Errorf("watchdog: %w", err)
			}
			// Not enabled (no WatchdogSec=): nothing more to do.
			watchdog = nil
		}
	}
}

// listen returns the listeners passed to the process under name, or else a
// new one on addr, which it stores under name for the next start.
func listen(addr, name string) ([]net.Listener, error) {
	passed, err := activation.ListenersWithNames()
	if err != nil {
		return nil, err
	}
	for other, ls := range passed {
		if other != name {
			for _, l := range ls {
				log.Printf("closing listener %q on %s: not named %q", other, l.Addr(), name)
				l.Close()
			}
		}
	}
	if ls := passed[name]; len(ls) > 0 {
		// From notify-service.socket, which keeps it open across restarts,
		// or from the file descriptor store, which already holds it.
		log.Printf("serving on %d passed listener(s) named %q", len(ls), name)
		return ls, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The manager keeps a copy and passes it to the next start of the
	// service; this process still owns l and closes it on shutdown.
	if sent, err := notify.StoreListener(name, l); err != nil {
		log.Printf("keeping the listener in the file descriptor store: %v", err)
	} else if sent {
		log.Printf("stored the listener on %s as %q", l.Addr(), name)
	}
	return []net.Listener{l}, nil
}

// shutdown stops accepting, answers every connection accepted, and
// returns. Closing the listeners closes this process's copies only: the
// manager keeps the socket (in the file descriptor store, or for
// notify-service.socket), and connections not accepted yet wait in its
// backlog for the next start. Run by hand, nothing else holds the socket,
// and they are refused.
func shutdown(srv *http.Server, listeners []net.Listener, serving *sync.WaitGroup, pending *unanswered) error {
	report(notify.Stopping())
	report(notify.Status("finishing requests in progress"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, l := range listeners {
		l.Close()
	}
	// Serve returns once every connection it accepted is tracked.
	serving.Wait()
	if err := pending.wait(ctx); err != nil {
		return err
	}
	return srv.Shutdown(ctx)
}

// unanswered tracks the connections a server accepted whose first request
// has not reached a handler yet.
//
// http.Server.Shutdown alone loses such requests: net/http closes a
// connection without an answer when it reads the request only after
// Shutdown began (golang/go#65802), and under load some connection is
// always in that window. So a stopping server closes its listeners, waits
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

// report logs a failed notification; a service keeps running without them.
func report(_ bool, err error) {
	if err != nil {
		log.Print(err)
	}
}

func isReload(sig os.Signal) bool {
	for _, r := range reloadSignals {
		if sig == r {
			return true
		}
	}
	return false
}
