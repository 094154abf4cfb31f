//go:build unix

package graceful_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/activationtest"
	"github.com/go-activation/activation/graceful"
	"github.com/go-activation/activation/notify"
)

// manager is a fake service manager: a datagram socket named by
// NOTIFY_SOCKET, with FDSTORE set, for the rest of the test.
type manager struct {
	t    *testing.T
	conn *net.UnixConn
	// listener is the manager's copy of the last listener stored.
	listener *os.File
}

// message is one notification, with the files it carried.
type message struct {
	text  string
	files []*os.File
}

func newManager(t *testing.T, fdstore int) *manager {
	t.Helper()
	path := activationtest.SocketPath(t, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("FDSTORE", strconv.Itoa(fdstore))
	// A new manager's store holds nothing of this process's.
	graceful.ResetStoreUse()
	return &manager{t: t, conn: c}
}

// receive waits for the next message; the files it carried are closed when
// the test ends.
func (m *manager) receive() message {
	m.t.Helper()
	if err := m.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		m.t.Fatal(err)
	}
	buf := make([]byte, notify.MaxMessageSize)
	oob := make([]byte, syscall.CmsgSpace(4*notify.MaxFiles))
	n, oobn, _, _, err := m.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		m.t.Fatalf("no notification: %v", err)
	}
	msg := message{text: string(buf[:n])}
	cmsgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		m.t.Fatal(err)
	}
	for _, cm := range cmsgs {
		fds, err := syscall.ParseUnixRights(&cm)
		if err != nil {
			m.t.Fatal(err)
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			f := os.NewFile(uintptr(fd), "received")
			m.t.Cleanup(func() { f.Close() })
			msg.files = append(msg.files, f)
		}
	}
	return msg
}

// expectNothing checks that no message is waiting: datagrams on a unix
// socket are queued before sendmsg returns, so nothing waiting means
// nothing was sent.
func (m *manager) expectNothing() {
	m.t.Helper()
	raw, err := m.conn.SyscallConn()
	if err != nil {
		m.t.Fatal(err)
	}
	var n int
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), make([]byte, notify.MaxMessageSize), 0) // non-blocking: a socket of package net
		return true
	})
	if err != nil {
		m.t.Fatal(err)
	}
	if rerr != unix.EAGAIN {
		m.t.Errorf("the manager got a message (%d bytes, %v), want none", n, rerr)
	}
}

// storedListener listens on loopback and keeps the listener in m's store,
// as a service that stores its own listener does: the socket outlives the
// process, and Serve hands connections over. m.stored is the manager's
// copy.
func storedListener(t *testing.T, m *manager) *listener {
	t.Helper()
	l := listen(t)
	if _, err := notify.StoreListener("web", l.Listener); err != nil {
		t.Fatal(err)
	}
	msg := m.receive()
	if msg.text != "FDSTORE=1\nFDNAME=web" || len(msg.files) != 1 {
		t.Fatalf("storing the listener: got %q with %d files", msg.text, len(msg.files))
	}
	m.listener = msg.files[0]
	// Before m closes: cleanups run last first.
	t.Cleanup(func() { notify.Remove("web") })
	return l
}

// wantStored receives the message storing n connections of l.
func (m *manager) wantStored(l net.Listener, n int) []*os.File {
	m.t.Helper()
	msg := m.receive()
	want := "FDSTORE=1\nFDNAME=" + graceful.ConnName(l.Addr())
	if msg.text != want || len(msg.files) != n {
		m.t.Fatalf("got %q with %d files, want %q with %d", msg.text, len(msg.files), want, n)
	}
	return msg.files
}

// wantStoredAll receives the messages storing n connections of l in all:
// connections that become idle at different times go in messages of their
// own.
func (m *manager) wantStoredAll(l net.Listener, n int) []*os.File {
	m.t.Helper()
	var files []*os.File
	want := "FDSTORE=1\nFDNAME=" + graceful.ConnName(l.Addr())
	for len(files) < n {
		msg := m.receive()
		if msg.text != want || len(msg.files) == 0 {
			m.t.Fatalf("got %q with %d files, want %q with files", msg.text, len(msg.files), want)
		}
		files = append(files, msg.files...)
	}
	if len(files) != n {
		m.t.Fatalf("%d connections stored, want %d", len(files), n)
	}
	return files
}

// fileConn makes a net.Conn of a stored socket, as the next process would.
func fileConn(t *testing.T, f *os.File) net.Conn {
	t.Helper()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	return c
}

// post is a request with a body, as a client sends it on a reused
// connection; a client does not retry such a request.
const post = "POST /next HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello again"

// wantPathsEchoed reads one response per path from c, in order, and
// checks that each body is its path, as the handlers of these tests answer.
func wantPathsEchoed(t *testing.T, c net.Conn, paths ...string) {
	t.Helper()
	r := bufio.NewReader(c)
	for _, path := range paths {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response to %s: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != path {
			t.Errorf("response to %s: %q, %v", path, body, err)
		}
	}
}

// continueOnStored plays the next process on the stored socket f: it must
// read exactly what the client sends on c after the hand-over, and its
// answer must reach the client.
func continueOnStored(t *testing.T, c net.Conn, f *os.File) {
	t.Helper()
	next := fileConn(t, f)
	if _, err := io.WriteString(c, post); err != nil {
		t.Fatalf("the client's next request: %v", err)
	}
	got := make([]byte, len(post))
	if _, err := io.ReadFull(next, got); err != nil || string(got) != post {
		t.Fatalf("the stored socket reads %q, %v; want the client's request %q", got, err, post)
	}
	if _, err := io.WriteString(next, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the client's answer from the next process: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "next" {
		t.Errorf("the client's answer from the next process: %q, %v; want %q", body, err, "next")
	}
}

// fdCount counts this process's open fds, or returns -1 where /proc is
// missing (the fd checks run on Linux).
func fdCount(t *testing.T) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		return -1
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestIdleConnectionsAreHandedOverWithEveryByteSentAfter(t *testing.T) {
	tests := []struct {
		name string
		// before brings c to the state the test stops Serve in. It
		// returns a function that the test calls once the stop began,
		// or nil.
		before func(t *testing.T, c net.Conn, st states, release chan struct{}) (afterStop func())
	}{{
		name: "an idle keep-alive connection",
		before: func(t *testing.T, c net.Conn, st states, release chan struct{}) func() {
			close(release)
			if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
				t.Fatalf("first request: %q, %v", resp, err)
			}
			return nil
		},
	}, {
		name: "a new connection before its first byte",
		before: func(t *testing.T, c net.Conn, st states, release chan struct{}) func() {
			close(release)
			st.awaitNew(t)
			return nil
		},
	}, {
		name: "a connection whose request is in flight, once it is answered",
		before: func(t *testing.T, c net.Conn, st states, release chan struct{}) func() {
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			for await(t, st, "connection state") != http.StateActive {
			}
			return func() {
				close(release)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("the request in flight: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Close {
					t.Errorf("the request in flight: %s, close %v; want 200 OK on a connection kept open", resp.Status, resp.Close)
				}
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, 16)
			l := storedListener(t, m)
			before := fdCount(t)
			st := newStates()
			release := make(chan struct{})
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-release
					io.WriteString(w, "hello")
				}),
				ConnState: st.connState,
			}
			done, cancel := serve(srv, l, timeout)
			defer cancel()
			c := dial(t, l)

			afterStop := tt.before(t, c, st, release)
			cancel()
			await(t, l.closed, "close of the listener")
			if afterStop != nil {
				afterStop()
			}
			stored := m.wantStored(l, 1)
			if err := await(t, done, "return of Serve"); err != nil {
				t.Errorf("Serve: %v", err)
			}
			// Serve closed the listener and its copy of the
			// connection, and left nothing else open: since before,
			// only the client's connection and the manager's copy
			// of the other end were added.
			if want := before - 1 + 2; before >= 0 && fdCount(t) != want {
				t.Errorf("%d fds open after Serve, want %d", fdCount(t), want)
			}
			continueOnStored(t, c, stored[0])
		})
	}
}

// Two requests sent in one write are both read by net/http's first read:
// the second waits in its buffer while the first is answered. Every
// request must be answered or left in the stored socket, and the second
// one is answered here, since net/http holds it.
func TestPipelinedRequestsAreAnsweredBeforeTheHandOver(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, r.URL.Path)
	})}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	c := dial(t, l)
	if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: test\r\n\r\nGET /b HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	await(t, entered, "call of the handler for /a")
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

// OPTIONS * is answered by net/http itself; the connection is then idle and
// handed over (see TestRequestAnsweredWithoutTheHandler for the stop
// without a store).
func TestRequestAnsweredWithoutTheHandlerIsHandedOverAfter(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	st := newStates()
	srv := &http.Server{Handler: http.HandlerFunc(hello), ConnState: st.connState}
	done, cancel := serve(srv, l, 3*timeout)
	defer cancel()
	c := dial(t, l)
	if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
		t.Fatalf("first request: %q, %v", resp, err)
	}
	// The stop hands the idle connection over at once: the OPTIONS sent
	// after it waits in the socket, for the next process.
	cancel()
	stored := m.wantStored(l, 1)
	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	next := fileConn(t, stored[0])
	const options = "OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n"
	if _, err := io.WriteString(c, options); err != nil {
		t.Fatal(err)
	}

	// The next process is a Serve on the stored socket too: here it gets
	// the connection as if accepted, answers OPTIONS *, and hands it over
	// again.
	l2 := storedListener(t, m)
	one := &oneConnListener{listener: l2, c: next}
	st2 := newStates()
	srv2 := &http.Server{Handler: http.HandlerFunc(hello), ConnState: st2.connState}
	done2, cancel2 := serve(srv2, one, 3*timeout)
	defer cancel2()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("OPTIONS *: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Errorf("OPTIONS *: %s, close %v; want 200 OK on a connection kept open", resp.Status, resp.Close)
	}
	for await(t, st2, "connection state") != http.StateIdle {
	}
	cancel2()
	m.wantStored(l2, 1)
	if err := await(t, done2, "return of the second Serve"); err != nil {
		t.Errorf("second Serve: %v", err)
	}
}

// oneConnListener yields c, then what its listener accepts.
type oneConnListener struct {
	*listener
	c    net.Conn
	sent bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.sent {
		l.sent = true
		return l.c, nil
	}
	return l.listener.Accept()
}

// The store counts what it holds: $FDSTORE=2 with the listener stored
// leaves room for one connection. The other is closed, as without a store.
func TestTheStoreGetsNoMoreThanFDSTOREAllows(t *testing.T) {
	m := newManager(t, 2)
	l := storedListener(t, m)
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	clients := []net.Conn{dial(t, l), dial(t, l)}
	for _, c := range clients {
		if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
			t.Fatalf("request: %q, %v", resp, err)
		}
	}
	cancel()
	m.wantStoredAll(l, 1)
	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	m.expectNothing()
	closed := 0
	for _, c := range clients {
		if err := c.SetReadDeadline(time.Now().Add(timeout / 10)); err != nil {
			t.Fatal(err)
		}
		// Serve has returned: a closed connection shows its EOF at once.
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed != 1 {
		t.Errorf("%d connections closed, want 1: the one the store had no room for", closed)
	}
}

// When the manager is gone, the store fails: Serve closes the idle
// connections, as without a store, and says why.
func TestAFailedStoreClosesTheConnectionsAndSaysSo(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	c := dial(t, l)
	if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
		t.Fatalf("request: %q, %v", resp, err)
	}
	// Nothing listens there.
	t.Setenv("NOTIFY_SOCKET", activationtest.SocketPath(t, "gone"))
	cancel()
	err := await(t, done, "return of Serve")
	if err == nil || !strings.HasPrefix(err.Error(), "graceful: storing 1 idle connection as ") {
		t.Errorf("Serve: %v, want an error storing 1 idle connection", err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("reading the connection: got %d, %v; want 0, EOF", n, err)
	}
}

// A listener the process opened itself and did not store dies with the
// process: its connections would come back to no one, so they are closed
// as without a store, even though the store is on.
func TestAListenerThatDiesWithTheProcessHandsNothingOver(t *testing.T) {
	m := newManager(t, 16)
	l := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	c := dial(t, l)
	if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
		t.Fatalf("request: %q, %v", resp, err)
	}
	cancel()
	if err := await(t, done, "return of Serve"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	m.expectNothing()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("reading the connection: got %d, %v; want 0, EOF", n, err)
	}
}

// HTTP/2 keeps the state of a connection in the process (streams, HPACK
// tables, settings): it is not handed over. Its own answer to a stop is a
// GOAWAY frame, which tells the client which requests were processed, and
// which Shutdown sends. HTTP/1.1 over TLS keeps its TLS state in the
// process too, and is closed as without a store.
func TestHTTP2AndTLSConnectionsAreNotHandedOver(t *testing.T) {
	cert := selfSigned(t)
	tests := []struct {
		name string
		// wrap makes the server's listener; client connects to addr,
		// does what the protocol needs, and returns the connection and
		// a reader of its frames (nil for HTTP/1.1).
		wrap   func(net.Listener) net.Listener
		client func(t *testing.T, addr string) (net.Conn, *bufio.Reader)
		h2c    bool
	}{{
		name:   "h2c gets a GOAWAY",
		wrap:   func(l net.Listener) net.Listener { return l },
		h2c:    true,
		client: func(t *testing.T, addr string) (net.Conn, *bufio.Reader) { return h2Start(t, dialAddr(t, addr)) },
	}, {
		name: "HTTP/2 over TLS gets a GOAWAY",
		wrap: func(l net.Listener) net.Listener {
			return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
		},
		client: func(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
			return h2Start(t, tlsDial(t, addr, cert, "h2"))
		},
	}, {
		name: "HTTP/1.1 over TLS is closed",
		wrap: func(l net.Listener) net.Listener {
			return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
		},
		client: func(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
			c := tlsDial(t, addr, cert, "http/1.1")
			if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
				t.Fatalf("request: %q, %v", resp, err)
			}
			return c, nil
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, 16)
			l := storedListener(t, m)
			srv := &http.Server{Handler: http.HandlerFunc(hello)}
			if tt.h2c {
				srv.Protocols = new(http.Protocols)
				srv.Protocols.SetHTTP1(true)
				srv.Protocols.SetUnencryptedHTTP2(true)
			}
			done, cancel := serve(srv, tt.wrap(l), timeout)
			defer cancel()
			c, frames := tt.client(t, l.Addr().String())
			cancel()
			if frames != nil {
				wantGoAway(t, c, frames)
			} else if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("reading the connection: got %d, %v; want 0, EOF", n, err)
			}
			if err := await(t, done, "return of Serve"); err != nil {
				t.Errorf("Serve: %v", err)
			}
			m.expectNothing()
		})
	}
}

// dialAddr connects to addr, bounded by timeout.
func dialAddr(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsDial connects with TLS to addr, trusting cert only, and checks that
// the server chose proto.
func tlsDial(t *testing.T, addr string, cert tls.Certificate, proto string) net.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	c := tls.Client(dialAddr(t, addr), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{proto}})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectionState().NegotiatedProtocol; got != proto {
		t.Fatalf("negotiated %q, want %q", got, proto)
	}
	return c
}

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// HTTP/2 frame types (RFC 9113, section 6).
const (
	frameSettings = 0x4
	frameGoAway   = 0x7
	flagAck       = 0x1
)

// h2Start opens an HTTP/2 connection on c, as a client with prior
// knowledge does, and returns once the server's SETTINGS arrived and were
// acknowledged.
func h2Start(t *testing.T, c net.Conn) (net.Conn, *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	writeFrame(t, c, frameSettings, 0, nil)
	r := bufio.NewReader(c)
	for {
		typ, flags, _ := readFrame(t, r)
		if typ == frameSettings && flags&flagAck == 0 {
			writeFrame(t, c, frameSettings, flagAck, nil)
			return c, r
		}
	}
}

// wantGoAway reads frames until a GOAWAY, which must say NO_ERROR, and then
// the end of the connection.
func wantGoAway(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	for {
		typ, _, payload := readFrame(t, r)
		if typ != frameGoAway {
			continue
		}
		if len(payload) < 8 || binary.BigEndian.Uint32(payload[4:8]) != 0 {
			t.Errorf("GOAWAY payload %x, want error code NO_ERROR", payload)
		}
		break
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Errorf("after GOAWAY: %v, want the end of the connection", err)
	}
}

func writeFrame(t *testing.T, c net.Conn, typ, flags byte, payload []byte) {
	t.Helper()
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	if _, err := c.Write(append(h[:], payload...)); err != nil {
		t.Fatal(err)
	}
}

func readFrame(t *testing.T, r *bufio.Reader) (typ, flags byte, payload []byte) {
	t.Helper()
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("reading an HTTP/2 frame: %v", err)
	}
	payload = make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("reading an HTTP/2 frame: %v", err)
	}
	return h[3], h[4], payload
}

// The next process takes the connections back: it serves them on the same
// server, removes them from the store before reading a byte, and hands
// them over again at its own stop.
func TestConnectionsTakenBackAreServedAndRemovedFromTheStore(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	done, cancel := serve(srv, l, timeout)
	defer cancel()
	c := dial(t, l)
	if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
		t.Fatalf("first request: %q, %v", resp, err)
	}
	cancel()
	stored := m.wantStored(l, 1)
	if err := await(t, done, "return of Serve"); err != nil {
		t.Fatalf("Serve: %v", err)
	}

	// The manager passes what it holds, in the order it was stored.
	name := graceful.ConnName(l.Addr())
	child := activationtest.Self(t, []activationtest.Socket{
		{Name: "web", File: m.listener},
		{Name: name, File: stored[0]},
	}, "serve")
	if msg := m.receive(); msg.text != "FDSTOREREMOVE=1\nFDNAME="+name {
		t.Fatalf("the child's first message: %q, want the removal of %q", msg.text, name)
	}
	// Longer than the child's ReadHeaderTimeout: an idle connection
	// taken back waits for its next request as long as IdleTimeout
	// allows, which is unset.
	if err := c.SetReadDeadline(time.Now().Add(10 * childReadHeaderTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("reading the idle connection: %v, want the deadline to pass", err)
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if resp, err := get(c, "/"); err != nil || resp != fmt.Sprintf("200 OK hello from %d", child.Process.Pid) {
		t.Fatalf("request to the child: %q, %v", resp, err)
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	again := m.wantStored(l, 1)
	if err := child.Wait(); err != nil {
		t.Errorf("the child: %v", err)
	}
	continueOnStored(t, c, again[0])
}

// A process that cannot remove the connections it takes back from the store
// does not serve: the store would pass them again, read or not, to the
// process after it.
func TestServeFailsWhenItCannotRemoveWhatItTookBack(t *testing.T) {
	m := newManager(t, 16)
	l := storedListener(t, m)
	c := dial(t, l)
	cf, err := l.Listener.(*net.TCPListener).AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	f, err := cf.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd, err := activationtest.Command([]activationtest.Socket{
		{Name: "web", File: m.listener},
		{Name: graceful.ConnName(l.Addr()), File: f},
	}, os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, activationtest.HelperEnv+"=serve", "NOTIFY_SOCKET="+activationtest.SocketPath(t, "gone"))
	out, err := cmd.CombinedOutput()
	for _, x := range cmd.ExtraFiles {
		x.Close()
	}
	const want = "helper serve: graceful: removing 1 connection taken back from the file descriptor store: "
	if err == nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("the child: %v, output %q; want a failure starting %q", err, out, want)
	}
	// The child closed its copy; the client's connection is still open,
	// in the test's hands, as it would be in the store's.
	if err := c.SetReadDeadline(time.Now().Add(timeout / 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("reading the client's connection: %v, want it open", err)
	}
}

// childReadHeaderTimeout is the ReadHeaderTimeout of the serve helper.
const childReadHeaderTimeout = 50 * time.Millisecond

// serveHelper is the next process of TestConnectionsTakenBackAreServed…:
// it serves on the listener named web until SIGTERM, and fails unless it
// closed every fd it was given or opened (the listener and the connection
// taken back).
func serveHelper() error {
	ctx, stop := signalContext()
	defer stop()
	l, err := activation.Listen("tcp", "sd-listen:web")
	if err != nil {
		return err
	}
	before, err := os.ReadDir("/proc/self/fd")
	if err != nil && runtime.GOOS == "linux" {
		return err
	}
	pid := os.Getpid()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %d", pid)
		}),
		ReadHeaderTimeout: childReadHeaderTimeout,
	}
	if err := graceful.Serve(ctx, srv, l, timeout); err != nil {
		return err
	}
	if runtime.GOOS == "linux" {
		after, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return err
		}
		// The listener and the connection taken back are closed.
		if len(after) != len(before)-2 {
			return fmt.Errorf("%d fds open after Serve, %d before: want 2 fewer", len(after), len(before))
		}
	}
	return nil
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// The names are valid fd names, and tell addresses apart.
func TestConnName(t *testing.T) {
	long := "/" + strings.Repeat("d", 300)
	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"an IPv4 address", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "graceful/tcp/127.0.0.1%3A8080"},
		{"an IPv6 wildcard", &net.TCPAddr{IP: net.IPv6unspecified, Port: 80}, "graceful/tcp/[%3A%3A]%3A80"},
		{"a unix path", &net.UnixAddr{Name: "/run/web.sock", Net: "unix"}, "graceful/unix//run/web.sock"},
		{"an abstract name with bytes to escape", &net.UnixAddr{Name: "@a%b:c d\x00\xff", Net: "unix"}, "graceful/unix/@a%25b%3Ac%20d%00%FF"},
		{"no address", nil, "graceful"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := graceful.ConnName(tt.addr); got != tt.want {
				t.Errorf("ConnName(%v) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	t.Run("a name too long is a digest", func(t *testing.T) {
		got := graceful.ConnName(&net.UnixAddr{Name: long, Net: "unix"})
		other := graceful.ConnName(&net.UnixAddr{Name: long + "x", Net: "unix"})
		const prefix = "graceful/%sha256="
		if !strings.HasPrefix(got, prefix) || len(got) != len(prefix)+64 || got == other {
			t.Errorf("ConnName of two long paths: %q and %q, want two digests", got, other)
		}
	})
}

// addr is a net.Addr made of two strings, for the fuzz target.
type addr struct{ network, address string }

func (a addr) Network() string { return a.network }
func (a addr) String() string  { return a.address }

func FuzzConnName(f *testing.F) {
	f.Add("tcp", "127.0.0.1:8080", "tcp", "127.0.0.1:8081")
	f.Add("unix", "/a:b", "unix", "/a%3Ab")
	f.Add("unix", "a b", "unix", "a%20b")
	f.Add("tcp/x", "y", "tcp", "x/y")
	f.Add("a/b", "c/d", "a/b/c", "d")
	f.Add("unix", strings.Repeat("x", 300), "unix", strings.Repeat("x", 301))
	f.Fuzz(func(t *testing.T, net1, addr1, net2, addr2 string) {
		a, b := graceful.ConnName(addr{net1, addr1}), graceful.ConnName(addr{net2, addr2})
		if len(a) > 255 || strings.ContainsAny(a, ": ") ||
			strings.IndexFunc(a, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
			t.Errorf("ConnName(%q, %q) = %q is not a valid fd name without spaces", net1, addr1, a)
		}
		if (net1 != net2 || addr1 != addr2) && a == b {
			t.Errorf("ConnName(%q, %q) = ConnName(%q, %q) = %q", net1, addr1, net2, addr2, a)
		}
	})
}

// runHelper runs the helper the test binary was started as.
func runHelper(name string) error {
	switch name {
	case "serve":
		return serveHelper()
	}
	return fmt.Errorf("no helper %q", name)
}

// When Serve returns, every connection it accepted is closed, with or
// without a store: none is left to a goroutine that has yet to close it.
func TestServeReturnsWithEveryConnectionClosed(t *testing.T) {
	if fdCount(t) < 0 {
		t.Skip("counting fds needs /proc/self/fd (Linux)")
	}
	for _, store := range []bool{false, true} {
		t.Run(map[bool]string{false: "without a store", true: "with a store"}[store], func(t *testing.T) {
			var m *manager
			var l *listener
			if store {
				m = newManager(t, 64)
				l = storedListener(t, m)
			} else {
				l = listen(t)
			}
			srv := &http.Server{Handler: http.HandlerFunc(hello)}
			done, cancel := serve(srv, l, timeout)
			defer cancel()
			const clients = 16
			for range clients {
				// Kept open by the test until it ends.
				c := dial(t, l)
				if resp, err := get(c, "/"); err != nil || resp != "200 OK hello" {
					t.Fatalf("request: %q, %v", resp, err)
				}
			}
			before := fdCount(t)
			cancel()
			if store {
				m.wantStoredAll(l, clients)
			}
			if err := await(t, done, "return of Serve"); err != nil {
				t.Errorf("Serve: %v", err)
			}
			// Gone: the listener and the server's end of each
			// connection. With a store, the manager's copies came.
			want := before - 1 - clients
			if store {
				want += clients
			}
			if got := fdCount(t); got != want {
				t.Errorf("%d fds open after Serve, want %d", got, want)
			}
		})
	}
}
