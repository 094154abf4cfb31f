package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// errNotServable reports that the net package cannot make the wanted type
// of a socket after all (a vsock listener, an SCTP socket, a stream
// socket that is not connected). Such an fd is left unclaimed for Files.
var errNotServable = errors.New("activation: socket not servable by the net package")

// An fdKind is what a call takes: which fds fit, and what the call names
// them in errors ("listener").
type fdKind struct {
	fits func(*inheritedFD) bool
	what string
}

// A conversion is an fdKind and the converter that makes each fd of it a
// value of type T.
type conversion[T io.Closer] struct {
	fdKind
	convert converter[T]
}

// The conversions of the package's calls.
var (
	asListener   = conversion[net.Listener]{fdKind{isListener, "listener"}, toListener}
	asPacketConn = conversion[net.PacketConn]{fdKind{isDatagram, "datagram socket"}, toPacketConn}
	asConn       = conversion[net.Conn]{fdKind{isStream, "connection"}, toConn}
	asFile       = conversion[*os.File]{fdKind{func(*inheritedFD) bool { return true }, "fd"}, handOver}
)

// named is c for the fds named name only.
func (c conversion[T]) named(name string) conversion[T] {
	fits := c.fits
	c.fits = func(e *inheritedFD) bool { return e.name == name && fits(e) }
	return c
}

// asStoredConn is asConn for connections a service stored under a name of
// its own: one whose peer went away while it was stored, and that is no
// longer connected, is dropped rather than left unclaimed.
var asStoredConn = conversion[net.Conn]{fdKind{isStream, "connection"}, toStoredConn}

// errPeerGone reports a stored connection that is no longer connected.
// Its converter has created nothing; the call closes the fd.
var errPeerGone = errors.New("activation: the peer of a stored connection is gone")

// toStoredConn is toConn for a connection that was connected once.
func toStoredConn(e *inheritedFD, f *os.File) (net.Conn, error) {
	c, err := connOf(e, f)
	if err == errNotConnected {
		return nil, errPeerGone
	}
	return c, err
}

// A converter makes a value of an unclaimed fd, given an *os.File that
// holds its socket: e's own, or a carrier's. It may return
// errNotServable, and then it has created nothing.
type converter[T io.Closer] func(e *inheritedFD, f *os.File) (T, error)

// toListener makes a net.Listener of a listening socket. The listener
// holds a duplicate of the fd; valueOf closes the original.
func toListener(e *inheritedFD, f *os.File) (net.Listener, error) {
	l, err := net.FileListener(f)
	if err != nil {
		return nil, conversionError(e, "listener", err)
	}
	e.learn(l.Addr(), nil)
	return l, nil
}

// toPacketConn makes a net.PacketConn of a datagram socket.
func toPacketConn(e *inheritedFD, f *os.File) (net.PacketConn, error) {
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, conversionError(e, "datagram socket", err)
	}
	var raddr net.Addr // a connected datagram socket's peer
	if c, ok := pc.(net.Conn); ok {
		raddr = unnamed(int(e.fd), true, c.RemoteAddr())
	}
	e.learn(unnamed(int(e.fd), false, pc.LocalAddr()), raddr)
	return pc, nil
}

// toConn makes a net.Conn of a connected stream or seqpacket socket. A
// stream socket that is neither listening nor connected is not servable.
func toConn(e *inheritedFD, f *os.File) (net.Conn, error) {
	c, err := connOf(e, f)
	if err == errNotConnected {
		e.unservable = true
		return nil, errNotServable
	}
	return c, err
}

// errNotConnected reports a stream socket that has no peer.
var errNotConnected = errors.New("activation: socket not connected")

// connOf makes a net.Conn of a stream or seqpacket socket, or returns
// errNotConnected, having made nothing, if it is not connected.
func connOf(e *inheritedFD, f *os.File) (net.Conn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, conversionError(e, "connection", err)
	}
	if c.RemoteAddr() == nil {
		c.Close()
		return nil, errNotConnected
	}
	e.learn(unnamed(int(e.fd), false, c.LocalAddr()), unnamed(int(e.fd), true, c.RemoteAddr()))
	return c, nil
}

// conversionError tells a socket the net package does not serve (which is
// marked unservable and skipped) from a real failure.
func conversionError(e *inheritedFD, as string, err error) error {
	describe(e)
	switch e.network() {
	case "tcp", "tcp6", "udp", "udp6", "unix", "unixgram", "unixpacket":
		// The net package's error names the *os.File it was given, which
		// may be a carrier named after another fd, in "file file+net
		// NAME: cause"; the message names e, then the cause.
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "file" {
			err = oe.Err
		}
		return fmt.Errorf("activation: fd %d (%q) as a %s: %w", e.fd, e.name, as, err)
	}
	e.unservable = true
	return errNotServable
}

// handOver is the converter of Files: the fd itself, as an *os.File.
func handOver(e *inheritedFD, _ *os.File) (*os.File, error) {
	if e.parked != nil {
		return parkedFile(e)
	}
	describe(e) // while the fd is still the package's to look at
	return e.osFile(), nil
}

// parkedFile returns a duplicate of the socket parked on e as an *os.File
// named after e; claiming e then closes the parked value.
func parkedFile(e *inheritedFD) (*os.File, error) {
	sc, ok := e.parked.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("activation: fd %d (%q): %T has no file descriptor", e.fd, e.name, e.parked)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = dupCloseOnExec(int(s)) }); err != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, os.NewSyscallError("fcntl", dupErr))
	}
	return os.NewFile(uintptr(fd), e.name), nil
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
