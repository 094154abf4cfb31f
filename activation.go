package activation

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
)

// Inherited describes every inherited fd, claimed or not, in fd order. It
// claims nothing, so it suits logs and health pages.
func Inherited() ([]Info, error) {
	var infos []Info
	_, err := withFDs(func(s *fdSet) error {
		infos = s.describeAll()
		return nil
	})
	return infos, err
}

// Files returns every unclaimed inherited fd, of any kind, as an *os.File
// whose Name is the fd's LISTEN_FDNAMES entry, and claims them. The caller
// owns the files and closes them when done.
func Files() ([]*os.File, error) {
	return takeAll(asFile)
}

// Listeners returns every unclaimed inherited listening stream socket (tcp,
// tcp6, unix, unixpacket) as a net.Listener, in fd order, and claims them.
// The caller owns the listeners: closing one closes its socket; it does
// not unlink a unix socket's file, which belongs to the manager.
func Listeners() ([]net.Listener, error) {
	return takeAll(asListener)
}

// PacketConns returns every unclaimed inherited datagram socket (udp,
// unixgram) as a net.PacketConn, in fd order, and claims them. The caller
// owns the connections.
func PacketConns() ([]net.PacketConn, error) {
	return takeAll(asPacketConn)
}

// Conns returns every unclaimed inherited connected stream or seqpacket
// socket, the connection an Accept=yes service is started for, as a
// net.Conn in fd order, and claims them. The caller owns the connections.
func Conns() ([]net.Conn, error) {
	return takeAll(asConn)
}

// ConnsNamed is Conns for the fds named name only: it returns every
// unclaimed inherited connected socket whose LISTEN_FDNAMES entry is name,
// in fd order, and claims them, leaving connections of other names for
// other calls. A service that keeps connections in the manager's fd store
// under a name of its own takes them back this way. A connection of that
// name that is no longer connected (its peer reset it while it was
// stored) is closed and not returned. The caller owns the connections.
func ConnsNamed(name string) ([]net.Conn, error) {
	return takeAll(asStoredConn.named(name))
}

// ListenersWithNames is Listeners, grouped by the fds' names; within a
// name the listeners are in fd order.
func ListenersWithNames() (map[string][]net.Listener, error) {
	ls, names, err := takeNamed(asListener)
	return groupByName(ls, names), err
}

// PacketConnsWithNames is PacketConns, grouped by the fds' names; within a
// name the connections are in fd order.
func PacketConnsWithNames() (map[string][]net.PacketConn, error) {
	pcs, names, err := takeNamed(asPacketConn)
	return groupByName(pcs, names), err
}

// A NamedListener is an inherited listener and the name of its fd. It is a
// net.Listener itself, so it can be served directly; its Listener field is
// the *net.TCPListener or *net.UnixListener.
type NamedListener struct {
	Name string // the fd's LISTEN_FDNAMES entry, or "unknown"
	net.Listener
}

// NamedListeners is Listeners with the name of each listener's fd, in fd
// order: what a server that serves every inherited listener logs, in the
// order the manager passed them (ListenersWithNames gives a map, whose
// order is random). The caller owns the listeners.
func NamedListeners() ([]NamedListener, error) {
	ls, names, err := takeNamed(asListener)
	if ls == nil {
		return nil, err
	}
	named := make([]NamedListener, len(ls))
	for i, l := range ls {
		named[i] = NamedListener{Name: names[i], Listener: l}
	}
	return named, err
}

// TLSListeners is Listeners with each listener wrapped by tls.NewListener
// with config. A nil config is an error, and nothing is claimed.
func TLSListeners(config *tls.Config) ([]net.Listener, error) {
	if config == nil {
		readOnce()
		return nil, fmt.Errorf("activation: TLSListeners needs a tls.Config, got nil")
	}
	ls, err := Listeners()
	for i, l := range ls {
		ls[i] = tls.NewListener(l, config)
	}
	return ls, err
}

// TLSListenersWithNames is ListenersWithNames with each listener wrapped
// by tls.NewListener with config. A nil config is an error, and nothing is
// claimed.
func TLSListenersWithNames(config *tls.Config) (map[string][]net.Listener, error) {
	if config == nil {
		readOnce()
		return nil, fmt.Errorf("activation: TLSListenersWithNames needs a tls.Config, got nil")
	}
	m, err := ListenersWithNames()
	for _, ls := range m {
		for i, l := range ls {
			ls[i] = tls.NewListener(l, config)
		}
	}
	return m, err
}

// Listen returns a listener for network ("tcp", "tcp4", "tcp6", "unix" or
// "unixpacket") and address, taking an inherited socket where the address
// asks for one. The address is one of:
//
//	sd-listen         the one unclaimed inherited listener; an error if there are none or several
//	sd-listen:NAME    the one unclaimed inherited listener named NAME
//	sd-listen:NAME:I  the I-th (from 0) inherited fd named NAME, which must be an unclaimed listener
//	fd:N              inherited fd N, which must be an unclaimed listener
//	fd:0              standard input, which must be a listening socket (see StdinListener)
//
// For these forms the network only says that a stream listener is wanted;
// its family is whatever the manager passed. Any other address is an
// address for net.Listen: if an unclaimed inherited listener of a
// compatible network is bound to it (":8080" matches a socket bound to the
// wildcard address on port 8080, "tcp" matches IPv4 and IPv6 sockets, unix
// paths match when they name the same file), Listen returns that one, and
// otherwise what net.Listen(network, address) returns. So one flag value
// serves both activated and by hand. The caller owns the listener.
//
// Every error is a *net.OpError, as net.Listen's are: Op "listen", the
// network and the address, and the cause, which names what was wrong and,
// for the sd-listen and fd: forms, lists what was inherited.
func Listen(network, address string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix", "unixpacket":
	default:
		readOnce()
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if isStdin(address) {
		l, err := takeStdin(asListener)
		return l, listenError(network, address, err)
	}
	l, err := takeAddress(network, address, asListener, func() (net.Listener, error) { return net.Listen(network, address) })
	return l, listenError(network, address, err)
}

// ListenPacket is Listen for datagram sockets: network is "udp", "udp4",
// "udp6" or "unixgram", the address forms are Listen's, and the fallback is
// net.ListenPacket(network, address). The caller owns the connection.
func ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6", "unixgram":
	default:
		readOnce()
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if isStdin(address) {
		pc, err := takeStdin(asPacketConn)
		return pc, listenError(network, address, err)
	}
	pc, err := takeAddress(network, address, asPacketConn, func() (net.PacketConn, error) { return net.ListenPacket(network, address) })
	return pc, listenError(network, address, err)
}

// Inetd-style managers pass one socket as standard input (and standard
// output) with no LISTEN_* variables: systemd with StandardInput=socket (a
// connection with Accept=yes, else the listening socket),
// systemd-socket-activate --inetd, ucspi-tcp's tcpserver, xinetd. The
// Stdin functions take that socket, once per process, whatever the
// LISTEN_* variables say; Listen and ListenPacket take it for the address
// "fd:0".
//
// Once taken, standard input, and standard output and standard error when
// they are the same socket (as systemd passes them by default with
// StandardInput=socket), are pointed at /dev/null, so that the returned
// value alone holds the socket: closing it closes the connection, and
// nothing the program writes to them reaches the client by accident. A
// service that logs to standard error sets StandardError=journal.

// StdinInfo describes standard input without taking it: its kind and, for
// a socket, its network, whether it listens, and its addresses. Its FD is
// 0 and its Name "stdin"; Claimed reports whether a Stdin function took
// it, after which standard input is /dev/null, and described as such.
func StdinInfo() (Info, error) {
	return stdinInfo()
}

// StdinListener returns standard input as a net.Listener when it is a
// listening stream socket (tcp, tcp6, unix, unixpacket), and an error
// saying what it is otherwise. The caller owns the listener.
func StdinListener() (net.Listener, error) {
	return takeStdin(asListener)
}

// StdinPacketConn returns standard input as a net.PacketConn when it is a
// datagram socket (udp, udp6, unixgram), and an error saying what it is
// otherwise. The caller owns the connection.
func StdinPacketConn() (net.PacketConn, error) {
	return takeStdin(asPacketConn)
}

// StdinConn returns standard input as a net.Conn when it is a connected
// stream or seqpacket socket, what an inetd-style service is started with
// for each connection, and an error saying what it is otherwise. The
// caller owns the connection.
func StdinConn() (net.Conn, error) {
	return takeStdin(asConn)
}
