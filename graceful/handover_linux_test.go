package graceful_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// While a handler runs, net/http keeps a one-byte read pending on the
// connection, to notice a client that goes away; a request the client
// sends meanwhile loses its first byte to that read, into net/http's
// buffers. Once the handler is done that request is read and answered
// before the connection is handed over: handing it over at its next read
// would leave the request without its first byte.
func TestARequestSentDuringAHandlerIsAnsweredBeforeTheHandOver(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	type connKey struct{}
	const second = "GET /b HTTP/1.1\r\nHost: test\r\n\r\n"
	entered := make(chan net.Conn, 1)
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/a" {
				entered <- r.Context().Value(connKey{}).(net.Conn)
				<-release
			}
			io.WriteString(w, r.URL.Path)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	c := dial(t, l)
	if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	server := await(t, entered, "call of the handler for /a")
	if _, err := io.WriteString(c, second); err != nil {
		t.Fatal(err)
	}
	// Wait until the pending read took the first byte of the second
	// request: the rest waits in the socket.
	inSocket := func() int {
		tc, ok := server.(interface{ NetConn() net.Conn }).NetConn().(syscall.Conn)
		if !ok {
			t.Fatalf("the server's connection %T has no socket", server)
		}
		raw, err := tc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var ierr error
		if err := raw.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
			t.Fatal(err)
		}
		if ierr != nil {
			t.Fatal(ierr)
		}
		return n
	}
	for deadline := time.Now().Add(timeout); inSocket() != len(second)-1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of the second request in the socket, want %d", inSocket(), len(second)-1)
		}
	}
	cancel()
	await(t, l.closed, "close of the listener")
	close(release)

	wantPathsEchoed(t, c, "/a", "/b")
	stored := m.wantStored(l, 1)
	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	continueOnStored(t, c, stored[0])
}
