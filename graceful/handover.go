package graceful

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/internal/fdname"
	"github.com/go-activation/activation/internal/storedlisteners"
	"github.com/go-activation/activation/notify"
)

// namePrefix starts the names of the connections Serve stores.
const namePrefix = "graceful/"

// ConnName returns the name under which [Serve] keeps the idle connections
// of a listener on addr in the manager's file descriptor store, and under
// which it takes them back at the next start: "graceful/", the network, a
// slash and the address, with '%', ':' and every byte outside printable
// ASCII or a space written as %XX, since a name may hold no ':' and no byte
// outside printable ASCII ("graceful/tcp/127.0.0.1%3A8080"). An address
// whose name would exceed the 255 bytes systemd allows is named by its
// SHA-256 digest instead ("graceful/%sha256=" and 64 hex digits: no other
// name has "%s"). A nil addr gives "graceful".
//
// The name is what LISTEN_FDNAMES shows for the connections, and what
// notify.Remove takes to drop them from the store: a version of a service
// that no longer serves on addr removes them at start, so that the store
// does not keep them open.
func ConnName(addr net.Addr) string {
	if addr == nil {
		return strings.TrimSuffix(namePrefix, "/")
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(namePrefix)
	b.WriteString(addr.Network())
	b.WriteByte('/')
	s := addr.String()
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c > '~' || c == ':' || c == '%':
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > fdname.MaxLen || !validNetwork(addr.Network()) {
		// The network's length keeps the pair apart from other pairs.
		sum := sha256.Sum256([]byte(strconv.Itoa(len(addr.Network())) + " " + addr.Network() + "/" + s))
		return namePrefix + "%sha256=" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

// validNetwork reports whether a network name can stand in a ConnName as
// it is: printable ASCII without a space, '/', ':' or '%'. The net
// package's networks are.
func validNetwork(network string) bool {
	for i := 0; i < len(network); i++ {
		if c := network[i]; c <= ' ' || c > '~' || c == '/' || c == ':' || c == '%' {
			return false
		}
	}
	return true
}

// storeUse counts, for every Serve of the process, what the process takes
// from and adds to the file descriptor store, so that it never stores more
// than $FDSTORE allows: the manager would close the rest, and their clients
// would lose what they send next.
var storeUse struct {
	sync.Mutex
	tookBack int // inherited connections taken back and removed from the store
	added    int // connections stored
}

// reserve returns how many of n more files fit in the store, and counts
// them as stored. Every inherited fd counts as held by the store, unless
// Serve took it back and removed it (fds of socket units are not in the
// store, but nothing tells them apart from stored ones), and so does every
// listener stored with notify.StoreListener (one stored again after it was
// inherited is in the store once, but counts twice here).
func reserve(n int) int {
	storeUse.Lock()
	defer storeUse.Unlock()
	infos, err := activation.Inherited()
	if err != nil {
		return 0
	}
	free := notify.StoreMax() - (len(infos) - storeUse.tookBack) - storedlisteners.Count() - storeUse.added
	k := max(min(n, free), 0)
	storeUse.added += k
	return k
}

// release gives back what reserve counted for n files that were not
// stored after all.
func release(n int) {
	storeUse.Lock()
	defer storeUse.Unlock()
	storeUse.added -= n
}

// handover hands the idle connections of one Serve to the next process
// through the file descriptor store, and serves the ones the process before
// handed to this one.
type handover struct {
	srv  *http.Server
	name string // the connections' name in the store
	// store: hand idle connections over at the stop. Without it, the
	// handover only serves the connections it took back.
	store    bool
	stopping atomic.Bool // set when the stop begins, with store

	mu    sync.Mutex
	conns map[*conn]struct{} // wrapped, not closed, handed over or hijacked
	// changed receives when a connection may have become idle or is gone.
	changed chan struct{}

	// queue yields the connections taken back once a request arrives on
	// them; nil when none were taken back.
	queue   *connQueue
	waiters sync.WaitGroup // the goroutines that wait for those requests
}

// startHandover takes back the connections stored for l's address and
// removes them from the store, and decides whether Serve hands idle
// connections over at its stop: when the manager offers a store and l's
// socket outlives the process, as one inherited from the manager or stored
// with notify.StoreListener does. It returns nil when there is nothing to
// do.
func startHandover(srv *http.Server, l net.Listener) (*handover, error) {
	addr := l.Addr()
	if !handoverSupported || addr == nil || !streamNetwork(addr.Network()) {
		return nil, nil
	}
	name := ConnName(addr)
	back, err := activation.ConnsNamed(name)
	if err != nil {
		return nil, fmt.Errorf("graceful: taking back the connections stored as %q: %w", name, err)
	}
	if len(back) > 0 {
		// Before anything is read: the store must not pass them again.
		if _, err := notify.Remove(name); err != nil {
			closeAll(back)
			return nil, fmt.Errorf("graceful: removing %s taken back from the file descriptor store: %w", plural(len(back), "connection"), err)
		}
		storeUse.Lock()
		storeUse.tookBack += len(back)
		storeUse.Unlock()
	}
	store := false
	if notify.StoreEnabled() {
		if store, err = outlives(addr); err != nil {
			closeAll(back)
			return nil, err
		}
	}
	if !store && len(back) == 0 {
		return nil, nil
	}
	h := &handover{
		srv:     srv,
		name:    name,
		store:   store,
		conns:   map[*conn]struct{}{},
		changed: make(chan struct{}, 1),
	}
	if len(back) > 0 {
		h.queue = newConnQueue(addr)
	}
	for _, c := range back {
		w := h.wrap(c, false)
		if w == nil {
			c.Close()
			continue
		}
		h.waiters.Add(1)
		go h.await(w)
	}
	return h, nil
}

// streamNetwork reports whether connections on a listener of network can
// be handed over: TCP and unix stream sockets.
func streamNetwork(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return true
	}
	return false
}

// outlives reports whether the listening socket on addr outlives the
// process: it was inherited, or stored with notify.StoreListener.
func outlives(addr net.Addr) (bool, error) {
	if storedlisteners.Has(addr) {
		return true, nil
	}
	infos, err := activation.Inherited()
	if err != nil {
		return false, fmt.Errorf("graceful: %w", err)
	}
	for _, in := range infos {
		if in.Listening && in.LocalAddr != nil && in.LocalAddr.String() == addr.String() &&
			strings.HasPrefix(in.Network, addr.Network()[:3]) {
			return true, nil
		}
	}
	return false, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// stage is where a wrapped connection is in the hand-over.
type stage int

const (
	live       stage = iota
	handing          // a duplicate is on its way to the store: nothing may be read or written
	handedOver       // the store holds it
	dropped          // closed, or to be closed, without a hand-over
)

// conn is an accepted or taken-back connection that Serve may hand over.
// Its reads are system calls made under mu, which check the stage first:
// once the stage is handing, no byte is taken from the socket.
type conn struct {
	net.Conn // a *net.TCPConn or *net.UnixConn
	raw      syscall.RawConn
	h        *handover

	mu    sync.Mutex
	stage stage
	done  chan struct{} // closed when the stage leaves handing
	// served: net/http has the connection. A connection taken back is not
	// served until a request arrives on it.
	served bool
	// returned: Read has returned bytes. quiet: none since the connection
	// went idle (ConnState StateIdle).
	returned, quiet bool
	// base is the start of the buffer of the first Read: net/http reads
	// a connection through one bufio.Reader, which passes the start of
	// its buffer only when it holds no byte (see mayHandOverLocked).
	base *byte
	// parked: a Read that may be handed over waits for bytes.
	parked bool
	// kept: not handed over (the store is full, or the duplicate failed):
	// net/http keeps it and Shutdown closes it, as without a store.
	kept     bool
	http2    bool   // it began with the HTTP/2 preface
	hijacked bool   // a handler took it over
	first    []byte // the first bytes read, until http2 is known
	sniffing bool
}

// wrap makes c a connection the handover tracks, or returns nil for one
// it cannot hand over (not TCP or a unix stream: a *tls.Conn, say).
func (h *handover) wrap(c net.Conn, served bool) *conn {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	w := &conn{Conn: c, raw: raw, h: h, served: served, sniffing: true}
	h.mu.Lock()
	h.conns[w] = struct{}{}
	h.mu.Unlock()
	return w
}

// http2Preface is how an HTTP/2 connection without TLS begins.
const http2Preface = "PRI * HTTP/2.0"

// gotLocked notes that Read returns b.
func (c *conn) gotLocked(b []byte) {
	c.returned, c.quiet = true, false
	if !c.sniffing {
		return
	}
	c.first = append(c.first, b[:min(len(b), len(http2Preface)-len(c.first))]...)
	switch {
	case !strings.HasPrefix(http2Preface, string(c.first)):
		c.sniffing, c.first = false, nil
	case len(c.first) == len(http2Preface):
		c.sniffing, c.first, c.http2 = false, nil, true
		c.h.notify()
	}
}

// mayHandOverLocked reports whether a Read into p may be handed over
// instead of reading: net/http holds no byte of the connection that it has
// not parsed. That is so before the first byte, and after a response when
// net/http's bufio.Reader is empty: it then reads into the start of its
// buffer, where the first Read read. A pipelined request it read ahead, or
// the byte its background read took while a handler ran, makes it read
// further along: that Read reads, the request is answered, and the
// connection is handed over at the next idle Read.
func (c *conn) mayHandOverLocked(p []byte) bool {
	if c.base == nil {
		c.base = &p[0]
	}
	if c.http2 || c.hijacked {
		return false
	}
	return !c.returned || (c.quiet && &p[0] == c.base)
}

// idleLocked reports whether the stop may hand c over now.
func (c *conn) idleLocked() bool {
	return c.stage == live && !c.http2 && !c.hijacked && !c.kept &&
		(!c.served || !c.returned || c.parked)
}

// writable reports whether c may still be written to.
func (c *conn) writable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stage == live
}

// Write writes to the connection unless it is being handed over.
func (c *conn) Write(p []byte) (int, error) {
	if !c.writable() {
		return 0, c.opError("write", net.ErrClosed)
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps net/http's sendfile and splice paths of *net.TCPConn.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if !c.writable() {
		return 0, c.opError("write", net.ErrClosed)
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite shuts down the writing side, as net/http does after some
// errors.
func (c *conn) CloseWrite() error {
	if !c.writable() {
		return c.opError("close", net.ErrClosed)
	}
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the *net.TCPConn or *net.UnixConn c wraps, for a handler
// that hijacked the connection.
func (c *conn) NetConn() net.Conn { return c.Conn }

// opError describes a failed operation on c as the net package does.
func (c *conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// errHandedOver is what a Read returns once the connection belongs to the
// next process.
var errHandedOver = errors.New("connection handed over to the next process")

// notify wakes the stop, if it waits.
func (h *handover) notify() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// forget stops tracking c.
func (h *handover) forget(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.notify()
}

// connState follows what net/http reports of c.
func (h *handover) connState(c *conn, state http.ConnState) {
	switch state {
	case http.StateIdle:
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
	case http.StateHijacked:
		c.mu.Lock()
		c.hijacked = true
		c.mu.Unlock()
		h.forget(c)
	case http.StateClosed:
		h.forget(c)
	}
}

// listener wraps the accepted connections of a listener, so that they can
// be handed over.
type listener struct {
	net.Listener
	h *handover
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if w := l.h.wrap(c, true); w != nil {
		return w, nil
	}
	return c, nil
}

// await waits for a request on c, a connection taken back, and queues it
// for net/http then: until a request arrives the connection is idle, as it
// was when the process before handed it over, so net/http's
// ReadHeaderTimeout must not run yet. IdleTimeout (or ReadTimeout) bounds
// the wait, as net/http bounds an idle connection's. If the stop comes
// first, the stop hands c over again or closes it.
func (h *handover) await(c *conn) {
	defer h.waiters.Done()
	idle := h.srv.IdleTimeout
	if idle <= 0 {
		idle = h.srv.ReadTimeout
	}
	if idle > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(idle))
	}
	ready, err := c.awaitRequest()
	if ready {
		c.Conn.SetReadDeadline(time.Time{})
		if h.queue.push(c) {
			return
		}
		// The stop began: the queue is closed, and c is the stop's.
		h.notify()
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		timedOut := c.stage == live && !c.served
		if timedOut {
			c.stage = dropped
		}
		c.mu.Unlock()
		if timedOut {
			c.Conn.Close()
			h.forget(c)
		}
	}
}

// connQueue is a listener that yields the connections taken back, as
// requests arrive on them.
type connQueue struct {
	addr  net.Addr
	ready chan struct{} // receives after a push
	done  chan struct{} // closed by Close

	mu     sync.Mutex
	conns  []*conn
	closed bool
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues c, unless the queue is closed.
func (q *connQueue) push(c *conn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.conns = append(q.conns, c)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// Accept returns the next queued connection that is still live, and
// hands it to net/http.
func (q *connQueue) Accept() (net.Conn, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: q.addr.Network(), Addr: q.addr, Err: net.ErrClosed}
		}
		var c *conn
		if len(q.conns) > 0 {
			c = q.conns[0]
			q.conns[0] = nil
			q.conns = q.conns[1:]
		}
		q.mu.Unlock()
		if c == nil {
			select {
			case <-q.ready:
			case <-q.done:
			}
			continue
		}
		c.mu.Lock()
		ok := c.stage == live
		c.served = ok
		c.mu.Unlock()
		if ok {
			return c, nil
		}
	}
}

// Close stops Accept. Queued connections stay with the handover, which
// hands them over or closes them at the stop.
func (q *connQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// stop hands every connection over as it becomes idle, until none is left
// that could, or until ctx is done: an idle connection at once, a new one
// before its first byte, one with a request in flight once it is answered
// and idle again. Connections speaking HTTP/2, hijacked ones, and the ones
// the store has no room for stay with net/http. The listeners must be
// closed and their Serve loops done. Taken-back connections still waiting
// for a request that are not handed over are closed.
func (h *handover) stop(ctx context.Context) error {
	var errs []error
	if h.store {
		h.stopping.Store(true)
	wait:
		for {
			idle, files, busy, err := h.collect()
			if err != nil {
				errs = append(errs, err)
			}
			if len(idle) > 0 {
				if err := h.handOver(idle, files); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if busy == 0 {
				break
			}
			select {
			case <-h.changed:
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("graceful: stop timed out with %s busy: %w", plural(busy, "connection"), ctx.Err()))
				break wait
			}
		}
	}
	h.dropWaiting()
	h.waiters.Wait()
	return errors.Join(errs...)
}

// collect moves every idle connection to the stage handing, with a
// duplicate of its socket, as far as the store has room, and counts the
// connections that may still become idle.
func (h *handover) collect() (idle []*conn, files []*os.File, busy int, err error) {
	var dupErr error
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.mu.Lock()
		switch {
		case c.stage != live || c.http2 || c.hijacked || c.kept:
		case c.idleLocked():
			if reserve(1) == 0 {
				c.kept = true
				break
			}
			f, err := c.Conn.(interface{ File() (*os.File, error) }).File()
			if err != nil {
				release(1)
				c.kept = true
				dupErr = err
				break
			}
			c.stage, c.done = handing, make(chan struct{})
			idle = append(idle, c)
			files = append(files, f)
		default:
			busy++
		}
		c.mu.Unlock()
	}
	if dupErr != nil {
		err = fmt.Errorf("graceful: duplicating an idle connection to store it: %w", dupErr)
	}
	return idle, files, busy, err
}

// aLongTimeAgo is a read deadline that has passed: it wakes a Read.
var aLongTimeAgo = time.Unix(1, 0)

// handOver stores the duplicates files of the connections idle, then lets
// go of the connections: net/http's copy of a connection is closed only
// after the store holds the socket. A connection whose message fails is
// closed instead, as without a store.
func (h *handover) handOver(idle []*conn, files []*os.File) error {
	var errs []error
	for len(idle) > 0 {
		n := min(len(idle), notify.MaxFiles)
		sent, err := notify.Store(h.name, files[:n]...)
		if err == nil && !sent {
			err = errors.New("NOTIFY_SOCKET is unset")
		}
		result := handedOver
		if err != nil {
			release(n)
			result = dropped
			errs = append(errs, fmt.Errorf("graceful: storing %s as %q: %w", plural(n, "idle connection"), h.name, err))
		}
		for i, c := range idle[:n] {
			files[i].Close()
			c.mu.Lock()
			c.stage, c.parked = result, false
			close(c.done)
			served := c.served
			c.mu.Unlock()
			if served {
				// Wakes a Read waiting for bytes; it returns an error,
				// and net/http closes its copy.
				c.Conn.SetReadDeadline(aLongTimeAgo)
			} else {
				c.Conn.Close()
				h.forget(c)
			}
		}
		idle, files = idle[n:], files[n:]
	}
	return errors.Join(errs...)
}

// plural counts n things: "1 connection", "2 connections".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// dropWaiting closes the taken-back connections net/http does not have
// and that were not handed over.
func (h *handover) dropWaiting() {
	h.mu.Lock()
	var waiting []*conn
	for c := range h.conns {
		c.mu.Lock()
		if c.stage == live && !c.served {
			c.stage = dropped
			waiting = append(waiting, c)
		}
		c.mu.Unlock()
	}
	h.mu.Unlock()
	for _, c := range waiting {
		c.Conn.Close()
		h.forget(c)
	}
}
