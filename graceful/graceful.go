// Package graceful restarts an HTTP server whose listening socket outlives
// it (a socket-activated server, or one that keeps its socket in the
// service manager's file descriptor store): the stopping server answers
// every request that reached it and leaves the connections it did not
// accept to the next process. With a file descriptor store it also hands
// its idle keep-alive connections to the next process instead of closing
// them, so that a restart loses no request (the few exceptions are listed
// below); without one, a request that a client sends on an idle keep-alive
// connection just as the stop closes it is lost, a race HTTP/1.1 cannot
// avoid.
//
// # What a plain Shutdown loses
//
// http.Server.Shutdown alone loses requests at a restart, three ways.
// Connections the kernel queued but the server did not accept are reset
// when the last copy of the listening socket closes, which is the server's
// own when nothing else holds the socket. net/http closes, without an answer, a
// connection that it accepted before Shutdown began but whose request it
// reads only after (golang/go#65802): it checks for the shutdown right after
// reading the request. (Go 1.26 does this; Go 1.24 still answered such a
// request. Serve works the same with either.) And Shutdown closes the idle
// keep-alive connections, where a client may be sending its next request at
// that moment: it sees the connection end with no response. Go's
// http.Transport retries such a request on a new connection only if it is
// idempotent (GET, HEAD, OPTIONS, TRACE, or with an Idempotency-Key header)
// or none of it was written; a POST on a reused connection fails. Under
// load some connection is always in each of these windows.
//
// # The stop without a store
//
// Under socket activation the manager (systemd, or an activator such as
// systemd-socket-activate) holds the listening socket across a restart of
// the service: from a socket unit, or from the file descriptor store. [Serve]
// closes only its copy of the listener, so connections not accepted yet wait
// in the socket's backlog for the next process; it waits until every
// connection it did accept has had its first request reach a handler, and
// only then calls Shutdown, which waits for the handlers; a response that
// starts once Shutdown has begun says "Connection: close", and its
// connection closes after it.
//
// What can still be lost is the third kind: a request that a client sends on
// an idle keep-alive connection as Shutdown closes it, whether the
// connection was idle when the stop began or became idle during it, after
// a response that did not say "Connection: close". HTTP/1.1 has no way to
// close an idle connection without that race.
//
// # The stop with a store: idle connections go to the next process
//
// When the manager offers a file descriptor store (notify.StoreEnabled:
// NOTIFY_SOCKET is set and $FDSTORE above 0) and the listening socket
// outlives the process (Serve's listener was inherited from the manager, or
// stored with notify.StoreListener), Serve closes no idle connection. It
// hands each one to the next process through the store: it stops net/http's
// read of the connection without taking a byte from the socket, stores the
// socket (FDSTORE=1, named by [ConnName]), and only then lets net/http close
// its copy. What the client sends meanwhile waits in the socket, and the
// next process reads it.
//
// A connection is handed over when net/http holds no byte of it that it has
// not answered: a new connection before its first byte, and a kept-alive one
// waiting for its next request. A connection with a request in flight is
// answered first and handed over once it is idle (unless the request asked
// to close it), and so is one with a request that net/http has already read
// ahead (a pipelined one, or one sent while a handler ran). The next process's Serve, on the same socket, takes
// the connections back (activation.ConnsNamed), removes them from the store
// (FDSTOREREMOVE=1) before it reads a byte of them, and serves them on its
// server: each goes to net/http once a request arrives on it, so that
// ReadHeaderTimeout starts then, while IdleTimeout (or ReadTimeout) bounds
// the wait, as for any idle connection.
//
// So a restart loses no request, except where a connection cannot be handed
// over, and then it is closed as without a store:
//
//   - The store has room for $FDSTORE files, and holds others: Serve counts
//     every fd the process inherited (but the connections it took back) and
//     every listener stored with notify.StoreListener, and stores no more
//     connections than fit. The manager would close, without a word, what
//     does not fit. Other files the service stores itself are not counted:
//     leave room for them in FileDescriptorStoreMax=.
//   - A message to the manager fails (Serve returns the error).
//   - HTTP/1.1 over TLS: the TLS session lives in the process.
//   - A connection a handler hijacked belongs to the handler.
//   - HTTP/2, over TLS or unencrypted (h2c): its connection state (streams,
//     header compression tables, settings) lives in the process. Shutdown
//     sends such a connection a GOAWAY frame, HTTP/2's own graceful stop:
//     it tells the client which requests were processed, and the client
//     sends the others again on a new connection (Go's http.Transport does
//     for every request whose body it can send again), which waits in the
//     backlog for the next process.
//
// The manager must process the FDSTORE=1 messages before it starts the next
// process: systemd reads notifications before it handles a process's exit,
// and so does socket-activate in this module.
//
// # Timeouts
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
// losing a request, as the package documentation says: it closes l; with a
// file descriptor store it hands every connection to the next process as
// soon as it is idle, and without one it answers the first request of every
// connection it had accepted; then it shuts srv down. It waits at most
// stopTimeout for all of that. It returns nil after such a stop, or the
// error that ended serving or stopping. When Serve returns, l is closed, and
// so is every connection srv accepted but the hijacked ones, which belong
// to their handlers; srv must not be used afterwards.
//
// Before serving, Serve takes back the connections the process before
// handed over for l's address (see [ConnName]), removes them from the
// store, and serves them too; it fails without serving if it cannot. This
// needs no store: a process run without one still serves the connections
// an earlier one left to it. activation.Conns claims every inherited
// connection, these included: a program that takes connections of its own
// from the store before it calls Serve takes them with
// activation.ConnsNamed instead.
//
// Serve sets srv's ConnState, ConnContext and Handler to functions that
// track the connections and then call the ones srv had, if any (a nil Handler
// is http.DefaultServeMux). srv must not serve on another listener at the
// same time. Without a store, a connection stops being waited for once a
// request reaches the handler, once it is idle after a response, or once it
// is closed or hijacked.
//
// When it may hand connections over, Serve wraps the TCP and unix
// connections it accepts: net/http, ConnState, ConnContext and a handler
// that hijacks get a net.Conn that is not a *net.TCPConn or *net.UnixConn
// but has a NetConn method that returns it (as tls.Conn does). Reads go
// through a system call of their own under a lock; sendfile and splice are
// kept.
//
// A client that connects and sends nothing holds the stop until the server
// drops it, unless it is handed over: set srv.ReadHeaderTimeout, which
// bounds the wait for the first request's header. If stopTimeout passes
// first, Serve closes every connection still open (http.Server.Close) and
// returns an error that wraps context.DeadlineExceeded.
//
// For HTTPS, pass a listener from tls.NewListener.
//
// If serving fails before ctx is done (l was closed by someone else, say),
// Serve still stops srv as above and returns the error from srv.Serve, such
// as one wrapping net.ErrClosed, or http.ErrServerClosed if srv had already
// been shut down.
func Serve(ctx context.Context, srv *http.Server, l net.Listener, stopTimeout time.Duration) error {
	h, err := startHandover(srv, l)
	if err != nil {
		l.Close()
		return err
	}
	t := track(srv, h)
	var accepted net.Listener = l
	if h != nil && h.store {
		accepted = &listener{Listener: l, h: h}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(accepted) }()
	// The connections taken back, as requests arrive on them.
	var queued chan error
	if h != nil && h.queue != nil {
		queued = make(chan error, 1)
		go func() { queued <- srv.Serve(h.queue) }()
	}

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
	if queued != nil {
		h.queue.Close()
		<-queued // net.ErrClosed, or http.ErrServerClosed as above
	}

	stop, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var errs []error
	if h != nil {
		if err := h.stop(stop); err != nil {
			errs = append(errs, err)
		}
	}
	if stop.Err() == nil {
		var err error
		if n := t.pending.wait(stop); n > 0 {
			err = fmt.Errorf("graceful: stop timed out with %s still without a request: %w", plural(n, "accepted connection"), stop.Err())
		} else if err = srv.Shutdown(stop); err != nil {
			err = fmt.Errorf("graceful: shutting down: %w", err)
		} else if n := t.open.wait(stop); n > 0 {
			// Shutdown returns once it has closed the connections, but a
			// connection's goroutine may hold it open a moment longer.
			err = fmt.Errorf("graceful: stop timed out with %s still closing: %w", plural(n, "connection"), stop.Err())
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if stop.Err() != nil {
		// Do not leave connections and their goroutines behind.
		srv.Close()
	}
	return errors.Join(serveErr, errors.Join(errs...))
}

// tracker follows the connections srv accepted.
type tracker struct {
	// pending holds the connections whose first request has not reached
	// a handler yet; open, the ones not closed or hijacked yet.
	pending, open *connSet
}

// connSet is a set of connections whose end a stop may wait for.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// empty, if not nil, is closed when conns becomes empty.
	empty chan struct{}
}

func newConnSet() *connSet { return &connSet{conns: map[net.Conn]struct{}{}} }

// connKey is the context key under which a connection's requests find it.
type connKey struct{}

// track makes srv report its connections to a new tracker, and the ones h
// wrapped to h, chaining the ConnState, ConnContext and Handler srv had.
func track(srv *http.Server, h *handover) *tracker {
	t := &tracker{pending: newConnSet(), open: newConnSet()}

	connState := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if w, ok := c.(*conn); ok {
			h.connState(w, state)
		}
		switch state {
		case http.StateNew:
			t.pending.add(c)
			t.open.add(c)
		case http.StateIdle:
			// A request was answered without reaching the handler
			// (OPTIONS *, say).
			t.pending.drop(c)
		case http.StateHijacked, http.StateClosed:
			t.pending.drop(c)
			t.open.drop(c)
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

	handler := srv.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			t.pending.drop(c)
		}
		handler.ServeHTTP(w, r)
	})
	return t
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
}

func (s *connSet) drop(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
}

// wait waits until the set is empty and returns 0, or until ctx is done
// and returns the number of connections left.
func (s *connSet) wait(ctx context.Context) int {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return 0
	}
	if s.empty == nil {
		s.empty = make(chan struct{})
	}
	empty := s.empty
	s.mu.Unlock()

	select {
	case <-empty:
		return 0
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns)
	}
}
