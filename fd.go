package activation

import (
	"io"
	"net"
	"os"
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

func isStream(e *inheritedFD) bool { return e.class == streamSocket && !e.unservable }
