// Package activation implements socket activation for Go servers: it takes
// over the file descriptors a service manager passes to a process under
// the LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES protocol of systemd
// (sd_listen_fds(3)), and returns them as the standard library's types.
//
// Listeners returns the listening stream sockets as net.Listener
// (*net.TCPListener for tcp and tcp6, *net.UnixListener for unix and
// unixpacket), PacketConns the datagram sockets as net.PacketConn
// (*net.UDPConn, *net.UnixConn), Conns the connected sockets that an
// Accept=yes service receives as net.Conn (*net.TCPConn, *net.UnixConn),
// and Files every fd as *os.File, named after its LISTEN_FDNAMES entry.
// Listen and ListenPacket take an address that works both activated and
// run by hand: "sd-listen:web" selects the inherited socket named web, and
// an ordinary address such as ":8080" takes an inherited socket bound
// there or else listens itself.
//
// # Semantics
//
// The environment is read once per process, on the first call of any
// function of this package, exactly as libsystemd's
// sd_listen_fds_with_names(1, …) reads it: the same number syntax, the same
// order of checks, LISTEN_PIDFDID on Linux, and "unknown" as the name of
// every fd when LISTEN_FDNAMES is absent. Variables meant for another
// process give nothing and no error, and their fds are not touched. A
// malformed environment gives an error that names the variable and quotes
// its value; every later call returns the same error. A call that fails on
// its own arguments (TLSListeners with a nil config, Listen with an unknown
// network) still does this first reading. Afterwards LISTEN_PID,
// LISTEN_PIDFDID, LISTEN_FDS and LISTEN_FDNAMES are unset, on every path,
// and every inherited fd that the first call does not close is marked
// close-on-exec, so nothing leaks into child processes (that call holds
// syscall.ForkLock for reading until then, as the standard library does
// while it makes fds). When the first call fails, every inherited fd of
// the range is marked, including those after the fd it failed on, where
// libsystemd stops; nothing else is touched.
//
// # Which fds are the manager's
//
// An fd that is already close-on-exec when the first call looks at it is
// not taken as inherited: exec closes such fds, so none that came through
// exec is, and the Go runtime opens its own files close-on-exec before
// main, on the lowest free fds. A LISTEN_FDS that counts more fds than
// were passed, or a range with a hole in it, therefore reaches an fd that
// is not open or one this process opened; the first call checks every fd
// of the range, in order, and the first such fd ends it with an error
// that names the fd, as libsystemd reports EBADF for an fd that is not
// open. No fd this process opened is listed, returned or closed, wherever
// it sits in the range, and the work done and memory used follow the fds
// really open, whatever LISTEN_FDS claims. The rule has one consequence:
// if other code marked the inherited fds close-on-exec before this
// package's first call (libsystemd's sd_listen_fds(0), or go-systemd's
// Files(false), both keep the variables set), the first call reports the
// first such fd instead of taking fds that code may use.
//
// An fd of any kind can be inherited: sockets of every family and type,
// FIFOs, files, character devices, message queues, and O_PATH handles
// (Linux), which are described by what they name. A socket is handed out
// as a net package value only when that value serves what the socket is:
// a listening socket as a listener, a connected one as a connection, a UDP
// or unix datagram socket as a packet connection. An ICMP "ping" socket,
// a raw socket or a socket of another family is of network "other" and
// only Files returns it (a datagram socket's protocol is checked on
// Linux, FreeBSD, OpenBSD and illumos; elsewhere one with inet addresses
// is taken for UDP).
//
// Each inherited fd is handed out at most once, by whichever call takes it
// first, from any number of goroutines: Listeners then PacketConns both get
// their sockets, and a second Listeners gets only what is left. A call
// either hands out everything it selects or, when one fd cannot be
// converted, returns an error naming that fd and hands out nothing; every
// socket stays open and unclaimed for a later call (one converted before
// the failure is kept, under another fd number, in the value made of it,
// and its original fd is closed). The package never closes a socket, or
// any fd, that it did not take from the manager, and after conversion
// each socket is held by exactly one fd: the one inside the returned
// value, which the caller owns. Until a call hands an inherited fd out,
// the fd is the package's: a program that closes it by number instead
// lets its own next fd take that number, which a later call would then
// take for the manager's (close what the package returns instead).
//
// # Addresses
//
// Listen and ListenPacket take "sd-listen", "sd-listen:NAME",
// "sd-listen:NAME:I" and "fd:N" to select inherited sockets, and any other
// address as net.Listen and net.ListenPacket take it. For those, an
// unclaimed inherited socket is taken when binding the address would be
// binding that socket, or colliding with it in a way only that socket can
// serve; otherwise the call listens itself:
//
//	network                     address               takes an inherited socket bound to
//	tcp, udp                    :P, [::]:P            0.0.0.0:P or [::]:P
//	tcp, udp                    0.0.0.0:P             0.0.0.0:P, or [::]:P if dual-stack (IPV6_V6ONLY off, as
//	                                                  systemd's ListenStream=P makes it)
//	tcp4, udp4                  :P, 0.0.0.0:P         0.0.0.0:P
//	tcp6, udp6                  :P, [::]:P            [::]:P
//	any of the above            IP:P                  IP:P exactly (an IPv4 address also as ::ffff:IP)
//	any of the above            HOST:P                as for the IP that net.Listen resolves HOST to
//	any of the above            :SERVICE              as for its port (":http" is port 80)
//	unix, unixpacket, unixgram  PATH                  a socket of that type bound to the file that PATH
//	                                                  names now (same device and inode: a path through a
//	                                                  symbolic link matches, a relative path is read from
//	                                                  the working directory)
//	unix, unixpacket, unixgram  @NAME                 the abstract socket @NAME (Linux)
//
// Port 0 takes no inherited socket: binding it takes a port of the
// kernel's choosing, which no socket holds. A host name is resolved, and
// files are looked up, with no lock held, so a slow resolver stalls
// neither os/exec nor other calls of this package.
// Which file a unix socket is bound to is asked of the kernel (sock_diag)
// on Linux. Elsewhere, and on Linux where stat gives a file a device
// number other than the kernel's (btrfs subvolumes, overlays whose layers
// are on other file systems), the socket's own absolute path is looked up
// instead, and a socket bound to a relative path matches nothing.
//
// # Platforms
//
// The protocol works on every Unix. On other systems (Windows, Plan 9,
// js/wasm, wasip1) nothing is ever inherited: the functions that hand out
// what was inherited return nothing and a nil error, Listen and
// ListenPacket fall back to net.Listen and net.ListenPacket for an
// ordinary address and return an error for the sd-listen and fd: forms,
// and the Stdin functions return an error wrapping errors.ErrUnsupported.
package activation

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
)

// Kind is what sort of file an inherited fd refers to.
type Kind uint8

// The kinds of inherited fds, as sd_is_socket(3) and its siblings tell them
// apart.
const (
	KindOther        Kind = iota // a directory, an anonymous inode or anything else
	KindSocket                   // a socket of any family and type
	KindFIFO                     // a named or unnamed pipe
	KindCharDevice               // a character device
	KindRegular                  // a regular file
	KindMessageQueue             // a POSIX message queue (Linux)
)

var kindNames = [...]string{
	KindOther:        "other",
	KindSocket:       "socket",
	KindFIFO:         "fifo",
	KindCharDevice:   "character device",
	KindRegular:      "regular file",
	KindMessageQueue: "message queue",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Info describes one inherited fd.
type Info struct {
	FD   int    // the fd number the manager passed
	Name string // its LISTEN_FDNAMES entry, or "unknown"
	Kind Kind

	// For sockets: the network in the net package's words ("tcp" for
	// IPv4 and "tcp6" for IPv6 stream sockets, "udp", "udp6", "unix",
	// "unixgram", "unixpacket"), or "other" for families and types the
	// net package does not serve; whether it listens; its local address
	// and, for a connected socket, its peer's address.
	Network    string
	Listening  bool
	LocalAddr  net.Addr
	RemoteAddr net.Addr

	// Claimed reports whether a call of this package has handed the fd out.
	Claimed bool
}

// String describes the fd in one line, for logs: its number, name and
// kind, then for a socket its network, whether it listens, and its
// addresses (an unnamed unix socket's as "(unnamed)"), for example
//
//	fd 3 "web": tcp6 listener on [::]:8080
//	fd 4 "conn": unix connection on /run/app.sock from (unnamed), claimed
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fd %d %q: %s", i.FD, i.Name, i.noun())
	if i.LocalAddr != nil {
		fmt.Fprintf(&b, " on %s", displayAddr(i.LocalAddr))
	}
	if i.RemoteAddr != nil {
		fmt.Fprintf(&b, " from %s", displayAddr(i.RemoteAddr))
	}
	if i.Claimed {
		b.WriteString(", claimed")
	}
	return b.String()
}

// noun says what the fd is: "fifo", "tcp listener", "udp socket",
// "unix connection".
func (i Info) noun() string {
	switch {
	case i.Kind != KindSocket:
		return i.Kind.String()
	case i.Listening:
		return i.Network + " listener"
	case i.RemoteAddr != nil:
		return i.Network + " connection"
	}
	return i.Network + " socket"
}

// displayAddr writes the address of an unnamed unix socket (one end of a
// socketpair, or a socket never bound) as (unnamed) rather than nothing.
func displayAddr(a net.Addr) string {
	if s := a.String(); s != "" {
		return s
	}
	return "(unnamed)"
}

// Inherited describes every inherited fd, claimed or not, in fd order. It
// claims nothing, so it suits logs and health pages.
func Inherited() ([]Info, error) {
	var infos []Info
	_, err := use(func(s *fdSet) error {
		infos = s.describeAll()
		return nil
	})
	return infos, err
}

// Files returns every unclaimed inherited fd, of any kind, as an *os.File
// whose Name is the fd's LISTEN_FDNAMES entry, and claims them. The caller
// owns the files and closes them when done.
func Files() ([]*os.File, error) {
	files, _, err := takeAll(func(e *inheritedFD) bool { return true }, handOver, false)
	return files, err
}

// Listeners returns every unclaimed inherited listening stream socket (tcp,
// tcp6, unix, unixpacket) as a net.Listener, in fd order, and claims them.
// The caller owns the listeners: closing one closes its socket; it does
// not unlink a unix socket's file, which belongs to the manager.
func Listeners() ([]net.Listener, error) {
	ls, _, err := takeAll(isListener, toListener, false)
	return ls, err
}

// PacketConns returns every unclaimed inherited datagram socket (udp,
// unixgram) as a net.PacketConn, in fd order, and claims them. The caller
// owns the connections.
func PacketConns() ([]net.PacketConn, error) {
	pcs, _, err := takeAll(isDatagram, toPacketConn, false)
	return pcs, err
}

// Conns returns every unclaimed inherited connected stream or seqpacket
// socket, the connection an Accept=yes service is started for, as a
// net.Conn in fd order, and claims them. The caller owns the connections.
func Conns() ([]net.Conn, error) {
	cs, _, err := takeAll(isStream, toConn, false)
	return cs, err
}

// ConnsNamed is Conns for the fds named name only: it returns every
// unclaimed inherited connected socket whose LISTEN_FDNAMES entry is name,
// in fd order, and claims them, leaving connections of other names for
// other calls. A service that keeps connections in the manager's fd store
// under a name of its own takes them back this way. The caller owns the
// connections.
func ConnsNamed(name string) ([]net.Conn, error) {
	cs, _, err := takeAll(func(e *inheritedFD) bool { return isStream(e) && e.name == name }, toConn, false)
	return cs, err
}

// ListenersWithNames is Listeners, grouped by the fds' names; within a
// name the listeners are in fd order.
func ListenersWithNames() (map[string][]net.Listener, error) {
	ls, names, err := takeAll(isListener, toListener, true)
	return byName(ls, names), err
}

// PacketConnsWithNames is PacketConns, grouped by the fds' names; within a
// name the connections are in fd order.
func PacketConnsWithNames() (map[string][]net.PacketConn, error) {
	pcs, names, err := takeAll(isDatagram, toPacketConn, true)
	return byName(pcs, names), err
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
	ls, names, err := takeAll(isListener, toListener, true)
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
func Listen(network, address string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix", "unixpacket":
	default:
		readOnce()
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	return claim(network, address, isListener, toListener, "listener",
		func() (net.Listener, error) { return net.Listen(network, address) })
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
	return claim(network, address, isDatagram, toPacketConn, "datagram socket",
		func() (net.PacketConn, error) { return net.ListenPacket(network, address) })
}
