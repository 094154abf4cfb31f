package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// sockClass is what the net package can make of a socket.
type sockClass uint8

const (
	notSocket      sockClass = iota
	listenerSocket           // SO_ACCEPTCONN: a listening stream or seqpacket socket
	datagramSocket           // SOCK_DGRAM
	streamSocket             // a stream or seqpacket socket that does not listen
	otherSocket              // raw sockets and anything else
)

// inheritedFD is one fd passed by the manager, with what is known of it.
// Sockets are classified when inherited; their addresses are learnt when
// first needed, from the converted value or from the fd.
//
// It is kept small: a process may inherit thousands, and every call walks
// them all.
type inheritedFD struct {
	fd        int32
	kind      Kind
	class     sockClass
	sotype    int8 // SO_TYPE, once asked: listening sockets are not asked unless described
	described bool // laddr and raddr are known
	claimed   bool
	closed    bool // the original fd is closed: a value made of it holds the socket
	pending   bool // a value is made of it in the call under way
	// unservable: the net package cannot make the value class calls
	// for (a vsock listener, a stream socket that is not connected);
	// only Files takes it. class still says what the socket is.
	unservable bool

	name         string
	laddr, raddr net.Addr // nil for families and types the net package does not serve
	// file wraps fd once a conversion has needed it. It is kept here so
	// that a failed conversion leaves it reachable: an *os.File that is
	// garbage collected closes its fd.
	file *os.File
	// parked is a value made of the fd by a call that then failed on
	// another fd. The original fd is closed; parked holds the socket until
	// a later call hands it out.
	parked io.Closer
}

func (e *inheritedFD) osFile() *os.File {
	if e.file == nil {
		e.file = os.NewFile(uintptr(e.fd), e.name)
	}
	return e.file
}

// network names a socket's network in the net package's words, or
// "other"; it is "" for other kinds of file.
func (e *inheritedFD) network() string {
	if e.kind != KindSocket {
		return ""
	}
	return networkOf(e.laddr)
}

// info describes e; the caller holds the set's lock.
func (e *inheritedFD) info() Info {
	describe(e)
	return Info{
		FD:         int(e.fd),
		Name:       e.name,
		Kind:       e.kind,
		Network:    e.network(),
		Listening:  e.class == listenerSocket,
		LocalAddr:  e.laddr,
		RemoteAddr: e.raddr,
		Claimed:    e.claimed,
	}
}

// learn records the addresses of a socket from the value made of it.
func (e *inheritedFD) learn(laddr, raddr net.Addr) {
	e.laddr, e.raddr = laddr, raddr
	e.described = true
}

// networkOf names the network of a net package address: "tcp" for IPv4,
// "tcp6" for IPv6, and so on.
func networkOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.To4() == nil && a.IP != nil {
			return "tcp6"
		}
		return "tcp"
	case *net.UDPAddr:
		if a.IP.To4() == nil && a.IP != nil {
			return "udp6"
		}
		return "udp"
	case *net.UnixAddr:
		return a.Net
	}
	return "other"
}

func isListener(e *inheritedFD) bool { return e.class == listenerSocket && !e.unservable }
func isDatagram(e *inheritedFD) bool { return e.class == datagramSocket && !e.unservable }
func isStream(e *inheritedFD) bool   { return e.class == streamSocket && !e.unservable }

// fdSet is the process's inherited fds.
type fdSet struct {
	mu     sync.Mutex
	fds    []inheritedFD
	marked bool // every fd not yet closed is close-on-exec
}

var process struct {
	once sync.Once
	set  fdSet
	err  error
}

// use runs f on the inherited fds with the set's lock held, if anything
// was inherited, and reports whether it was.
//
// The first use reads the environment. It holds syscall.ForkLock for
// reading from then until the fds that f has not closed are marked
// close-on-exec, as the standard library does while it makes an fd that
// is not yet close-on-exec: so no child can inherit them, and an fd that f
// converts and closes at once needs no marking of its own.
//
// The first use takes the set's lock inside the once, before any other
// call can: a call that held the lock while the first waited for it, with
// syscall.ForkLock held for reading, could otherwise deadlock with an
// os/exec waiting to fork (where duplicating an fd takes ForkLock too).
func use(f func(*fdSet) error) (bool, error) {
	s := &process.set
	first := false
	process.once.Do(func() {
		first = true
		holdForks()
		s.mu.Lock()
		s.fds, process.err = inherit(processEnviron())
	})
	if first {
		defer releaseForks()
		defer s.mu.Unlock()
	}
	if len(s.fds) == 0 {
		return false, process.err
	}
	if !first {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	defer s.markCloseOnExec()
	return true, f(s)
}

// readOnce does the first call's work, if no call has yet, for a call that
// fails on its arguments: the environment is read and unset and the fds
// marked close-on-exec all the same, so nothing stays inheritable.
func readOnce() {
	use(func(*fdSet) error { return nil })
}

// takeAll is take on the process's fds.
func takeAll[T io.Closer](fits func(*inheritedFD) bool, convert converter[T], names bool) ([]T, []string, error) {
	var vals []T
	var fdNames []string
	_, err := use(func(s *fdSet) (err error) {
		vals, fdNames, err = take(s, fits, convert, names)
		return err
	})
	return vals, fdNames, err
}

// markCloseOnExec marks every fd the package still holds close-on-exec,
// once. The caller holds the lock.
func (s *fdSet) markCloseOnExec() {
	if s.marked {
		return
	}
	for i := range s.fds {
		if e := &s.fds[i]; !e.closed {
			// The fd is open and held by the package or just handed
			// out; only a close behind the package's back fails here.
			markCloseOnExec(int(e.fd))
		}
	}
	s.marked = true
}

func (s *fdSet) describeAll() []Info {
	infos := make([]Info, len(s.fds))
	for i := range s.fds {
		infos[i] = s.fds[i].info()
	}
	return infos
}

// errNotServable reports that the net package cannot make the wanted type
// of a socket after all (a vsock listener, an SCTP socket, a stream
// socket that is not connected). Such an fd is left unclaimed for Files.
var errNotServable = errors.New("activation: socket not servable by the net package")

// A converter makes a value of an unclaimed fd, given an *os.File that
// holds its socket: e's own, or a carrier's. It may return
// errNotServable, and then it has created nothing.
type converter[T io.Closer] func(e *inheritedFD, f *os.File) (T, error)

// handOver is the converter of Files: the fd itself, as an *os.File.
func handOver(e *inheritedFD, _ *os.File) (*os.File, error) {
	if e.parked != nil {
		return parkedFile(e)
	}
	describe(e) // while the fd is still the package's to look at
	return e.osFile(), nil
}

// take converts every unclaimed fd that fits and claims them all, or, when
// one conversion fails, claims none: the values already made are parked
// on their fds, unclaimed, for a later call to hand out. With names set,
// it also returns the name of each value's fd.
// The caller holds the lock.
func take[T io.Closer](s *fdSet, fits func(*inheritedFD) bool, convert converter[T], names bool) ([]T, []string, error) {
	var vals []T
	var c *carrier
	if _, files := any(vals).([]*os.File); !files {
		c = new(carrier)
		defer c.close()
	}
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !fits(e) {
			continue
		}
		v, err := valueOf(e, convert, c)
		if err == errNotServable {
			continue
		}
		if err != nil {
			settle(s, vals, func(e *inheritedFD, v T) { e.park(v) })
			return nil, nil, err
		}
		if vals == nil {
			vals = make([]T, 0, len(s.fds)-i)
		}
		vals = append(vals, v)
		e.pending = true
	}
	var fdNames []string
	if names && len(vals) > 0 {
		fdNames = make([]string, 0, len(vals))
	}
	settle(s, vals, func(e *inheritedFD, v T) {
		if names {
			fdNames = append(fdNames, e.name)
		}
		e.claim(v)
	})
	return vals, fdNames, nil
}

// settle calls f for each fd a value was made of in this call, in fd order,
// with its value, and clears its pending mark.
func settle[T any](s *fdSet, vals []T, f func(*inheritedFD, T)) {
	j := 0
	for i := range s.fds {
		if e := &s.fds[i]; e.pending {
			e.pending = false
			f(e, vals[j])
			j++
		}
	}
}

// valueOf makes the value of e: the one an earlier failed call parked, or
// a new one. A new value made by the net package holds a duplicate of the
// fd, and the original is closed at once, so that the process never holds
// two fds per socket (growing the fd table costs a pause of every thread).
// When that close fails, the value is parked and the error returned.
//
// Given a carrier c, the sockets of one call after the first reach the
// net package through the first one's *os.File: its fd takes each socket
// in turn (dup3), which spares an *os.File, with its finalizer, per
// socket.
func valueOf[T io.Closer](e *inheritedFD, convert converter[T], c *carrier) (T, error) {
	var zero T
	if v, ok := e.parked.(T); ok {
		e.parked = nil
		return v, nil
	}
	if c != nil && c.file != nil && e.file == nil {
		return carried(e, convert, c)
	}
	var f *os.File
	if e.parked == nil { // else the fd is closed: Files duplicates the parked value
		f = e.osFile()
	}
	v, err := convert(e, f)
	if err != nil || f == nil || any(v) == any(f) {
		return v, err
	}
	e.file, e.closed = nil, true
	if c != nil && c.file == nil && c.adopt(f) {
		return v, nil // the carrier closes f
	}
	if err := f.Close(); err != nil {
		e.park(v)
		return zero, fmt.Errorf("activation: fd %d (%q) was closed by someone else: %w", e.fd, e.name, err)
	}
	return v, nil
}

// carried makes the value of e through the carrier c, then closes e's fd.
func carried[T io.Closer](e *inheritedFD, convert converter[T], c *carrier) (T, error) {
	var zero T
	if err := dupOnto(int(e.fd), c.fd); err != nil {
		return zero, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, err)
	}
	v, err := convert(e, c.file)
	if err != nil {
		return v, err // e's fd still holds the socket
	}
	e.closed = true
	if err := closeFD(int(e.fd)); err != nil {
		e.park(v)
		return zero, fmt.Errorf("activation: fd %d (%q) was closed by someone else: %w", e.fd, e.name, err)
	}
	return v, nil
}

// A carrier is an *os.File whose fd holds one socket after another while
// a call converts them, so that the call makes one *os.File, not one per
// socket. Its fd is the first converted socket's own fd.
type carrier struct {
	file *os.File
	fd   int
}

// adopt makes f the carrier, if f's fd can take other sockets safely:
// where dup3 exists, and f is not registered with the runtime's poller
// (as an fd in non-blocking mode would be), since the poller watches an
// fd's file, which dup3 replaces.
func (c *carrier) adopt(f *os.File) bool {
	if !haveDupOnto || !errors.Is(f.SetReadDeadline(time.Time{}), os.ErrNoDeadline) {
		return false
	}
	c.file, c.fd = f, int(f.Fd())
	return true
}

// close closes the carrier's fd, which holds a duplicate of the last
// socket it carried.
func (c *carrier) close() {
	if c.file != nil {
		c.file.Close()
	}
}

// park keeps v, made of e by a call that then failed, for a later call.
// The *os.File of the fd itself needs no keeping, e holds it already; a
// duplicate of a value parked already is closed, the first one kept.
func (e *inheritedFD) park(v io.Closer) {
	switch f, isFile := v.(*os.File); {
	case isFile && f == e.file:
	case e.parked != nil && e.parked != v:
		v.Close()
	default:
		e.parked = v
	}
}

// claim marks e handed out as v, closing what the package held for e
// that is not v: a parked value that Files duplicated.
func (e *inheritedFD) claim(v any) {
	if e.parked != nil && e.parked != v {
		e.parked.Close() // the package's own duplicate; v holds the socket
	}
	e.claimed, e.file, e.parked = true, nil, nil
}

// byName groups values by the names of the fds they were made of.
func byName[T any](vals []T, names []string) map[string][]T {
	if vals == nil {
		return nil
	}
	m := make(map[string][]T)
	for i, v := range vals {
		m[names[i]] = append(m[names[i]], v)
	}
	return m
}
