package graceful_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-activation/activation/graceful"
)

// timeout bounds every wait in these tests.
const timeout = 10 * time.Second

// listener is a loopback listener on a port the kernel picks, which closes
// closed once it is closed.
type listener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func listen(t *testing.T) *listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &listener{Listener: l, closed: make(chan struct{})}
}

func (l *listener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// states passes on the connection states a server reports.
type states chan http.ConnState

func newStates() states { return make(states, 16) }

func (s states) connState(c net.Conn, state http.ConnState) { s <- state }

// awaitNew waits for the server to report a new connection.
func (s states) awaitNew(t *testing.T) {
	t.Helper()
	if got := await(t, s, "connection state"); got != http.StateNew {
		t.Fatalf("connection state: got %v, want %v", got, http.StateNew)
	}
}

// await waits for ch to receive or be closed, or fails the test.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
		panic("unreachable")
	}
}

// dial connects to l and sends nothing yet.
func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	return c
}

// get sends a GET request for path on c and returns the response's status
// and body, or the error reading it.
func get(c net.Conn, path string) (string, error) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s", resp.Status, body), nil
}

// answer sends a GET request on c and describes the response: status, body
// and whether it closes the connection, or the error reading it.
func answer(c net.Conn) string {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		return err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	s := fmt.Sprintf("%s %s", resp.Status, body)
	if resp.Close {
		s += ", Connection: close"
	}
	return s
}

// serve runs graceful.Serve in the background and returns its result's
// channel and the function that stops it.
func serve(srv *http.Server, l net.Listener, stopTimeout time.Duration) (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- graceful.Serve(ctx, srv, l, stopTimeout) }()
	return done, cancel
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

// TestRequestAfterStopBegan: a connection accepted before the stop whose
// request arrives only after the stop began is answered. The control case
// shows that http.Server.Shutdown alone, in the same sequence, closes it
// without an answer (golang/go#65802) on the Go releases that do so (see
// shutdownLoses), which is why the package exists.
func TestRequestAfterStopBegan(t *testing.T) {
	answered := outcome{resp: "200 OK hello"}
	lost := outcome{err: io.ErrUnexpectedEOF}
	plain := []outcome{lost}
	switch shutdownLoses() {
	case "no":
		plain = []outcome{answered}
	case "unknown":
		plain = []outcome{answered, lost}
	}
	tests := []struct {
		name string
		// start serves with srv on l and returns the function that
		// begins the stop and the channel that receives its result.
		start func(srv *http.Server, l net.Listener) (stop func(), result <-chan error)
		want  []outcome // any of these
	}{{
		name: "graceful.Serve answers the request",
		start: func(srv *http.Server, l net.Listener) (func(), <-chan error) {
			done, cancel := serve(srv, l, timeout)
			return cancel, done
		},
		want: []outcome{answered},
	}, {
		name: "http.Server.Shutdown alone closes the connection without an answer since Go 1.26",
		start: func(srv *http.Server, l net.Listener) (func(), <-chan error) {
			go srv.Serve(l)
			done := make(chan error, 1)
			return func() { go func() { done <- srv.Shutdown(context.Background()) }() }, done
		},
		want: plain,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			st := newStates()
			srv := &http.Server{Handler: http.HandlerFunc(hello), ConnState: st.connState}
			stop, result := tt.start(srv, l)

			c := dial(t, l)
			st.awaitNew(t)
			stop()
			// Once the listener is closed, the server is stopping: it
			// has set its shutdown flag (Shutdown) or the package waits
			// for the connection (Serve).
			await(t, l.closed, "close of the listener")

			resp, err := get(c, "/")
			got := outcome{resp, err}
			if !slices.ContainsFunc(tt.want, got.is) {
				t.Errorf("%s: got %v, want one of %v", runtime.Version(), got, tt.want)
			}
			if err := await(t, result, "end of the stop"); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}

// outcome is what a client got for its request: a response, or the error
// reading it.
type outcome struct {
	resp string
	err  error
}

func (o outcome) is(want outcome) bool { return o.resp == want.resp && errors.Is(o.err, want.err) }

func (o outcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("error %v", o.err)
	}
	return fmt.Sprintf("response %q", o.resp)
}

// shutdownLoses says whether the running net/http closes, unanswered, a
// connection whose first request it reads after Shutdown began: "yes" for
// Go 1.26 and later (it checks for the shutdown right after reading a
// request), "no" for Go 1.24 and earlier, which still answered it, and
// "unknown" for the releases in between, which the test takes either way.
func shutdownLoses() string {
	m := regexp.MustCompile(`go1\.(\d+)`).FindStringSubmatch(runtime.Version())
	if m == nil {
		return "unknown"
	}
	switch minor, _ := strconv.Atoi(m[1]); {
	case minor <= 24:
		return "no"
	case minor >= 26:
		return "yes"
	}
	return "unknown"
}

// TestHandlerInProgress: Serve returns only once a handler running at the
// stop has finished, and its client gets the whole response. A response
// that starts once Shutdown has begun tells the client that the connection
// closes (without a store, the stop closes it).
func TestHandlerInProgress(t *testing.T) {
	l := listen(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	finished := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
		close(finished)
	})}
	shutdownBegan := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownBegan) })
	done, cancel := serve(srv, l, timeout)
	defer cancel()

	c := dial(t, l)
	got := make(chan string, 1)
	go func() {
		got <- answer(c)
	}()
	await(t, entered, "call of the handler")
	cancel()
	await(t, l.closed, "close of the listener")
	await(t, shutdownBegan, "start of Shutdown")
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a handler was running", err)
	default:
	}
	close(release)

	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	select {
	case <-finished:
	default:
		t.Error("Serve returned before the handler finished")
	}
	if resp, want := await(t, got, "response"), "200 OK finished, Connection: close"; resp != want {
		t.Errorf("response: got %q, want %q", resp, want)
	}
}

// TestSilentClient: a client that connects and sends nothing holds the
// stop until ReadHeaderTimeout drops it or stopTimeout ends the stop.
func TestSilentClient(t *testing.T) {
	tests := []struct {
		name              string
		readHeaderTimeout time.Duration
		stopTimeout       time.Duration
		wantErr           error
	}{{
		name:              "ReadHeaderTimeout drops the client and Serve returns nil",
		readHeaderTimeout: 100 * time.Millisecond,
		stopTimeout:       timeout,
	}, {
		name:        "without ReadHeaderTimeout the stop times out and Serve closes the connection",
		stopTimeout: 100 * time.Millisecond,
		wantErr:     context.DeadlineExceeded,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			st := newStates()
			srv := &http.Server{
				Handler:           http.HandlerFunc(hello),
				ConnState:         st.connState,
				ReadHeaderTimeout: tt.readHeaderTimeout,
			}
			done, cancel := serve(srv, l, tt.stopTimeout)
			defer cancel()

			c := dial(t, l)
			st.awaitNew(t)
			start := time.Now()
			cancel()
			err := await(t, done, "return of Serve")
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Serve: got %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "graceful: ") {
				t.Errorf("Serve: error %q lacks the prefix graceful:", err)
			}
			if elapsed := time.Since(start); elapsed >= timeout {
				t.Errorf("Serve took %v", elapsed)
			}
			// Either way the server closed the connection.
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("reading the connection: got %d, %v; want 0, EOF", n, err)
			}
		})
	}
}

// registerDefault registers TestChains's handler on http.DefaultServeMux
// once, however many times the test runs.
var registerDefault sync.Once

// TestChains: the ConnState, ConnContext and Handler set on srv are still
// called, and a nil Handler means http.DefaultServeMux.
func TestChains(t *testing.T) {
	const path = "/graceful-test-default-mux"
	registerDefault.Do(func() {
		http.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "default mux") })
	})
	type ctxKey struct{}
	tests := []struct {
		name     string
		handler  http.Handler
		wantResp string
	}{{
		name: "the caller's handler sees the caller's connection context",
		handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%v", r.Context().Value(ctxKey{}))
		}),
		wantResp: "200 OK from ConnContext",
	}, {
		name:     "a nil handler is http.DefaultServeMux",
		wantResp: "200 OK default mux",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			st := newStates()
			srv := &http.Server{
				Handler:   tt.handler,
				ConnState: st.connState,
				ConnContext: func(ctx context.Context, c net.Conn) context.Context {
					return context.WithValue(ctx, ctxKey{}, "from ConnContext")
				},
			}
			done, cancel := serve(srv, l, timeout)
			defer cancel()

			c := dial(t, l)
			resp, err := get(c, path)
			if err != nil || resp != tt.wantResp {
				t.Errorf("response: got %q, %v; want %q", resp, err, tt.wantResp)
			}
			cancel()
			if err := await(t, done, "return of Serve"); err != nil {
				t.Errorf("Serve: %v", err)
			}
			// Shutdown closed the idle connection.
			var got []http.ConnState
			for len(got) < 4 && !slices.Contains(got, http.StateClosed) {
				got = append(got, await(t, st, "connection state"))
			}
			want := []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed}
			if !slices.Equal(got, want) {
				t.Errorf("connection states: got %v, want %v", got, want)
			}
		})
	}
}

// TestServeFails: when srv.Serve fails, Serve returns its error.
func TestServeFails(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(srv *http.Server, l net.Listener)
		wantErr error
	}{{
		name:    "a closed listener fails with net.ErrClosed",
		prepare: func(srv *http.Server, l net.Listener) { l.Close() },
		wantErr: net.ErrClosed,
	}, {
		name:    "a server shut down before fails with http.ErrServerClosed",
		prepare: func(srv *http.Server, l net.Listener) { srv.Shutdown(context.Background()) },
		wantErr: http.ErrServerClosed,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			srv := &http.Server{Handler: http.HandlerFunc(hello)}
			tt.prepare(srv, l)
			// ctx never ends: only the failure returns.
			err := graceful.Serve(context.Background(), srv, l, timeout)
			if !errors.Is(err, tt.wantErr) || !strings.HasPrefix(err.Error(), "graceful: ") {
				t.Errorf("Serve: got %v, want an error prefixed graceful: wrapping %v", err, tt.wantErr)
			}
			// l is closed when Serve returns.
			if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept after Serve: got %v, want %v", err, net.ErrClosed)
			}
		})
	}
}

// TestRequestAnsweredWithoutTheHandler: net/http answers OPTIONS * itself,
// without calling the handler, and keeps the connection open. Such a
// request, the first on a connection accepted before the stop and sent
// after it began, is answered, and Serve returns nil without waiting for
// the connection to close: it is idle, not waiting for a request.
func TestRequestAnsweredWithoutTheHandler(t *testing.T) {
	l := listen(t)
	st := newStates()
	called := make(chan struct{}, 1)
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called <- struct{}{} }),
		ConnState: st.connState,
	}
	// A stop that waited for this connection would end only after
	// stopTimeout, long after await gives up.
	done, cancel := serve(srv, l, 3*timeout)
	defer cancel()

	c := dial(t, l)
	st.awaitNew(t)
	cancel()
	await(t, l.closed, "close of the listener")
	if _, err := io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("OPTIONS *: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Errorf("OPTIONS *: %s, close %v; want 200 OK on a connection kept open", resp.Status, resp.Close)
	}
	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	select {
	case <-called:
		t.Error("the handler was called for OPTIONS *")
	default:
	}
}
