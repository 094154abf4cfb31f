package activation

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

const selectorPrefix = "sd-listen"

// isSelector reports whether address is one of the package's own forms
// rather than an address for the net package.
func isSelector(address string) bool {
	return address == selectorPrefix || strings.HasPrefix(address, selectorPrefix+":") || strings.HasPrefix(address, "fd:")
}

// isStdin reports whether address is fd:0, standard input.
func isStdin(address string) bool {
	sel, err := parseSelector(address, func(string) bool { return false })
	return err == nil && sel.byFD && sel.fd == 0
}

// listenError gives every error of Listen and ListenPacket the shape of
// net.Listen's: a *net.OpError with Op "listen", the network, the address
// and the cause, which keeps what it wraps (errors.Is(err,
// syscall.EINVAL) for a malformed environment).
func listenError(network, address string, err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Op == "listen" || err == nil {
		return err
	}
	return &net.OpError{Op: "listen", Net: network, Addr: listenAddr{network, address}, Err: err}
}

// listenAddr is an address as Listen was given it, for its errors.
type listenAddr struct{ network, address string }

func (a listenAddr) Network() string { return a.network }
func (a listenAddr) String() string  { return a.address }

// selector is a parsed sd-listen or fd: address.
type selector struct {
	byFD    bool
	fd      int
	byName  bool
	name    string
	byIndex bool
	index   int
}

// parseSelector parses an address for which isSelector is true. The names
// the fds have decide whether "sd-listen:a:1" is the name "a:1" or the
// second fd named "a".
func parseSelector(address string, hasName func(string) bool) (selector, error) {
	if rest, ok := strings.CutPrefix(address, "fd:"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || strings.HasPrefix(rest, "+") {
			return selector{}, fmt.Errorf("%q is not a file descriptor number", rest)
		}
		return selector{byFD: true, fd: n}, nil
	}
	rest, ok := strings.CutPrefix(address, selectorPrefix+":")
	if !ok {
		return selector{}, nil
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !hasName(rest) {
		if n, err := strconv.Atoi(rest[i+1:]); err == nil && n >= 0 && !strings.HasPrefix(rest[i+1:], "+") {
			return selector{byName: true, name: rest[:i], byIndex: true, index: n}, nil
		}
	}
	return selector{byName: true, name: rest}, nil
}

// target is what net.Listen(network, address) would bind, as far as it can
// be read without blocking: a port and a host, or a unix socket path.
type target struct {
	network string
	host    string // as written: "" for the wildcard, an IP or a host name
	port    int
	path    string // for unix networks
}

// parseTarget reads address for network; ok is false when net.Listen
// would refuse it or bind a port of the kernel's choosing, and then no
// inherited socket is bound to it.
func parseTarget(network, address string) (t target, ok bool) {
	t.network = network
	switch network {
	case "unix", "unixgram", "unixpacket":
		t.path = address
		return t, address != ""
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return t, false
	}
	port, err := net.LookupPort(network, service) // numbers, or the services file
	if err != nil || port == 0 {
		// Port 0 asks the kernel for a free port: no socket is bound
		// to it, not even an unbound one whose address reads port 0.
		return t, false
	}
	t.host, t.port = host, port
	return t, true
}

// candidate is an unclaimed socket whose address may be t's: the same
// kind of network and the same port, or a unix socket of the same type,
// with what deciding needs to know of its fd.
type candidate struct {
	index  int      // in the fd set
	laddr  net.Addr // its local address
	v6only bool     // an IPv6 socket that accepts no IPv4 connections
	sock   sockID   // a unix socket bound to a path: what finds its file
}

// mayBe reports whether a socket with local address laddr may be what t
// names: a socket of the network's kind, family and port, or a named unix
// socket of the network's type.
func (t target) mayBe(laddr net.Addr) bool {
	switch a := laddr.(type) {
	case *net.TCPAddr:
		return sameFamily(t.network, "tcp", a.IP) && a.Port == t.port && t.path == ""
	case *net.UDPAddr:
		return sameFamily(t.network, "udp", a.IP) && a.Port == t.port && t.path == ""
	case *net.UnixAddr:
		return a.Net == t.network && a.Name != ""
	}
	return false
}

// sameFamily reports whether a socket of IP address ip can be what
// net.Listen(network, …) binds, network being kind ("tcp" or "udp")
// with an optional "4" or "6".
func sameFamily(network, kind string, ip net.IP) bool {
	switch network {
	case kind:
		return true
	case kind + "4":
		return ip.To4() != nil
	case kind + "6":
		return ip.To4() == nil
	}
	return false
}

// match returns the indexes of the candidates bound to t, in fd order. It
// may resolve t's host name and look at files, so the caller holds no
// lock.
func (t target) match(cands []candidate) []int {
	var matched []int
	if t.path != "" {
		if strings.HasPrefix(t.path, "@") {
			for _, c := range cands {
				if c.laddr.(*net.UnixAddr).Name == t.path {
					matched = append(matched, c.index)
				}
			}
			return matched
		}
		want, err := fileOf(t.path)
		if err != nil {
			return nil // net.Listen would make the file, so no socket is bound to it
		}
		for _, c := range cands {
			if name := c.laddr.(*net.UnixAddr).Name; !strings.HasPrefix(name, "@") && boundToFile(c.sock, name, want) {
				matched = append(matched, c.index)
			}
		}
		return matched
	}
	ip := net.ParseIP(t.host)
	if t.host != "" && ip == nil {
		// A host name: the address net.Listen would resolve it to.
		a, err := resolve(t.network, t.host)
		if err != nil {
			return nil
		}
		ip = a
	}
	for _, c := range cands {
		if boundTo(t.network, t.host, ip, c) {
			matched = append(matched, c.index)
		}
	}
	return matched
}

// resolve is the IP address that net.Listen would bind for host: the
// first IPv4 address, else the first, of the network's families.
func resolve(network, host string) (net.IP, error) {
	address := net.JoinHostPort(host, "0")
	if strings.HasPrefix(network, "udp") {
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, err
		}
		return a.IP, nil
	}
	a, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return nil, err
	}
	return a.IP, nil
}

// boundTo reports whether candidate c, of the right family and port, is
// what net.Listen(network, host:port) would bind, or collide with so that
// no other socket could serve the address:
//
//   - no host, or "::" on tcp or udp (net.Listen makes a dual-stack socket):
//     a socket on the IPv4 or the IPv6 wildcard address;
//   - "0.0.0.0" on tcp or udp: the IPv4 wildcard, or the IPv6 wildcard
//     when that socket is dual-stack (systemd's ListenStream=PORT), which
//     serves IPv4 too and collides with any IPv4 wildcard bind;
//   - on tcp4, tcp6, udp4 and udp6 only the wildcard of that family;
//   - any other address: a socket bound to that IP exactly.
func boundTo(network, host string, ip net.IP, c candidate) bool {
	var laddr net.IP
	switch a := c.laddr.(type) {
	case *net.TCPAddr:
		laddr = a.IP
	case *net.UDPAddr:
		laddr = a.IP
	default:
		return false
	}
	dual := network == "tcp" || network == "udp"
	switch {
	case host == "" || (ip.Equal(net.IPv6unspecified) && dual):
		return laddr.IsUnspecified()
	case ip.Equal(net.IPv4zero) && ip.To4() != nil:
		return laddr.Equal(net.IPv4zero) && laddr.To4() != nil ||
			dual && laddr.Equal(net.IPv6unspecified) && !c.v6only
	}
	return laddr.Equal(ip) && (ip.To4() == nil) == (laddr.To4() == nil)
}

// boundToFile reports whether a unix socket, named name and identified by
// sock, is bound to the file want. Where the system cannot tell which
// file a socket is bound to, an absolute name is looked up instead; a
// relative one was bound in a directory this process cannot know.
func boundToFile(sock sockID, name string, want fileID) bool {
	if match, known := socketBoundTo(uint64(sock), want.dev, want.ino); known {
		return match
	}
	if !filepath.IsAbs(name) {
		return false
	}
	got, err := fileOf(name)
	return err == nil && got == want
}
