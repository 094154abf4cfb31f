package activation

import (
	"fmt"
	"net"
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
