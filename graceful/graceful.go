// Package graceful stops an HTTP server without losing a request, for servers
// whose listening socket outlives them: socket-activated servers, and servers
// that keep their socket in the service manager's file descriptor store.
//
// http.Server.Shutdown alone loses requests at a restart. net/http closes,
// without an answer, a connection that it accepted before Shutdown began but
// whose request it reads only after (golang/go#65802): Shutdown waits for such
// a connection, but the server checks for the shutdown right after reading the
// request and closes the connection instead of calling the handler. The
// client sees the connection end with no response; under load some
// connection is always in that window. (Go 1.26 does this; Go 1.24 still
// answered such a request. Serve works the same with either.)
//
// Under socket activation the manager (systemd, or an activator such as
// systemd-socket-activate) holds the listening socket across a restart of the
// service: from a socket unit, or from the file descriptor store
// (FileDescriptorStoreMax=). So a stopping server can lose nothing: it closes
// its copy of the listener, and connections the kernel queued but the server
// did not accept wait in the socket's backlog for the next process. It waits
// until every connection it did accept has had its first request reach a
// handler, and only then calls Shutdown, which waits for the handlers. [Serve]
// does all of that.
//
// With systemd, the manager asks the service to stop with SIGTERM (see
// signal.NotifyContext) and kills it after TimeoutStopSec=, which should
// exceed the stopTimeout given to Serve. Run by hand, nothing else holds the
// socket: closing the listener closes it, and the kernel resets the
// connections still in its backlog.
package graceful

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves HTTP on l with srv until ctx is done, then stops without
// losing a request: it closes l, answers the first request of every
// connection it had accepted, and shuts srv down, waiting at most stopTimeout
// for all of that. It returns nil after such a stop, or the error that ended
// serving or stopping. l is closed when Serve returns; srv must not be used
// afterwards.
//
// Serve sets srv's ConnState, ConnContext and Handler to functions that
// track the connections and then call the ones srv had, if any (a nil Handler
// is http.DefaultServeMux). srv must not serve on another listener at the
// same time. A connection stops being waited for once a request reaches the
// handler, once it is idle after a response, or once it is closed or
// hijacked.
//
// A client that connects and sends nothing holds the stop until the server
// drops it: set srv.ReadHeaderTimeout, which bounds the wait for the first
// request's header. If stopTimeout passes first, Serve closes every
// connection still open (http.Server.Close) and returns an error that wraps
// context.DeadlineExceeded.
//
// For HTTPS, pass a listener from tls.NewListener.
//
// If serving fails before ctx is done (l was closed by someone else, say),
// Serve still stops srv as above and returns the error from srv.Serve, such
// as one wrapping net.ErrClosed, or http.ErrServerClosed if srv had already
// been shut down.
func Serve(ctx context.Context, srv *http.Server, l net.Listener, stopTimeout time.Duration) error {
	p := track(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	var serveErr error
	select {
	case err := <-served:
		// srv.Serve closed l.
		serveErr = fmt.Errorf("graceful: serving: %w", err)
	case <-ctx.Done():
		// Closes this process's copy of the socket only, if the manager
		// holds it: connections not accepted yet stay in its backlog.
		l.Close()
		// srv.Serve returns once it has reported every connection it
		// accepted to p (ConnState StateNew runs in its accept loop).
		if err := <-served; !errors.Is(err, net.ErrClosed) {
			serveErr = fmt.Errorf("graceful: serving: %w", err)
		}
	}

	stop, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := p.wait(stop)
	if err == nil {
		if err = srv.Shutdown(stop); err != nil {
			err = fmt.Errorf("graceful: shutting down: %w", err)
		}
	}
	if err != nil {
		// Do not leave connections and their goroutines behind.
		srv.Close()
	}
	return errors.Join(serveErr, err)
}

// pending tracks the accepted connections whose first request has not
// reached a handler yet.
type pending struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// empty, if not nil, is closed when conns becomes empty.
	empty chan struct{}
}

// connKey is the context key under which a connection's requests find it.
type connKey struct{}

// track makes srv report its connections to a new pending, chaining the
// ConnState, ConnContext and Handler srv had.
func track(srv *http.Server) *pending {
	p := &pending{conns: map[net.Conn]struct{}{}}

	connState := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			p.add(c)
		case http.StateIdle, http.StateHijacked, http.StateClosed:
			// Idle: a request was answered without reaching the handler
			// (OPTIONS *, say).
			p.drop(c)
		}
		if connState != nil {
			connState(c, state)
		}
	}

	connContext := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if connContext != nil {
			ctx = connContext(ctx, c)
			if ctx == nil {
				// Let net/http report the caller's mistake.
				return nil
			}
		}
		return context.WithValue(ctx, connKey{}, c)
	}

	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			p.drop(c)
		}
		h.ServeHTTP(w, r)
	})
	return p
}

func (p *pending) add(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *pending) drop(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if len(p.conns) == 0 && p.empty != nil {
		close(p.empty)
		p.empty = nil
	}
}

// wait waits until no connection is pending, or until ctx is done.
func (p *pending) wait(ctx context.Context) error {
	p.mu.Lock()
	if len(p.conns) == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.empty == nil {
		p.empty = make(chan struct{})
	}
	empty := p.empty
	p.mu.Unlock()

	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		n := len(p.conns)
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		return fmt.Errorf("graceful: stop timed out with %d accepted connections still without a request: %w", n, ctx.Err())
	}
}
