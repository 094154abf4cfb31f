package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

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
	c, err := net.FileConn(f)
	if err != nil {
		return nil, conversionError(e, "connection", err)
	}
	if c.RemoteAddr() == nil {
		c.Close()
		e.unservable = true
		return nil, errNotServable
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
		// The net package names the *os.File it was given, which may be
		// a carrier named after another fd; the message names e.
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "file" {
			oe.Addr = nil
		}
		return fmt.Errorf("activation: fd %d (%q) as a %s: %w", e.fd, e.name, as, err)
	}
	e.unservable = true
	return errNotServable
}

const selectorPrefix = "sd-listen"

// claim serves Listen and ListenPacket: the inherited socket the address
// selects or is bound to, or else what fallback makes.
func claim[T io.Closer](network, address string, fits func(*inheritedFD) bool, convert converter[T], what string, fallback func() (T, error)) (T, error) {
	var zero T
	if sel, err := parseSelector(address, func(string) bool { return false }); err == nil && sel.byFD && sel.fd == 0 {
		return takeStdin(fits, convert, what)
	}
	if isSelector(address) {
		var v T
		found, err := use(func(s *fdSet) (err error) {
			v, err = claimSelected(s, network, address, fits, convert, what)
			return err
		})
		switch {
		case err != nil:
			return zero, err
		case !found:
			if _, err := parseSelector(address, func(string) bool { return false }); err != nil {
				return zero, fmt.Errorf("activation: listen %s %s: %w; nothing was inherited", network, address, err)
			}
			return zero, fmt.Errorf("activation: listen %s %s: nothing was inherited", network, address)
		}
		return v, nil
	}
	v, ok, err := claimBoundTo(network, address, fits, convert)
	if err != nil || ok {
		return v, err
	}
	return fallback()
}

// isSelector reports whether address is one of the package's own forms
// rather than an address for the net package.
func isSelector(address string) bool {
	return address == selectorPrefix || strings.HasPrefix(address, selectorPrefix+":") || strings.HasPrefix(address, "fd:")
}

// claimSelected claims the fd that an sd-listen or fd: address selects.
func claimSelected[T io.Closer](s *fdSet, network, address string, fits func(*inheritedFD) bool, convert converter[T], what string) (T, error) {
	var zero T
	sel, err := parseSelector(address, s.hasName)
	var e *inheritedFD
	if err == nil {
		e, err = s.selectFD(sel, fits, what)
	}
	if err == nil {
		var v T
		v, err = valueOf(e, convert, nil)
		if err == nil {
			e.claim(v)
			return v, nil
		}
		if err != errNotServable {
			return zero, err
		}
		err = fmt.Errorf("fd %d (%q) is a %s socket, which the net package cannot serve as a %s", e.fd, e.name, e.network(), what)
	}
	return zero, fmt.Errorf("activation: listen %s %s: %w; inherited: %s", network, address, err, s.summary())
}

// selectFD finds the fd sel names; the caller holds the lock.
func (s *fdSet) selectFD(sel selector, fits func(*inheritedFD) bool, what string) (*inheritedFD, error) {
	var cands []*inheritedFD
	switch {
	case sel.byFD:
		for i := range s.fds {
			if int(s.fds[i].fd) == sel.fd {
				return usable(&s.fds[i], fits, what)
			}
		}
		return nil, fmt.Errorf("fd %d was not inherited", sel.fd)
	case sel.byIndex:
		named := s.named(sel.name, func(*inheritedFD) bool { return true })
		if sel.index >= len(named) {
			return nil, fmt.Errorf("asked for fd %d named %q, but %d fds have that name", sel.index, sel.name, len(named))
		}
		return usable(named[sel.index], fits, what)
	case sel.byName:
		cands = servableFirst(s.named(sel.name, func(e *inheritedFD) bool { return !e.claimed && fits(e) }))
		switch len(cands) {
		case 0:
			return nil, fmt.Errorf("no unclaimed %s is named %q", what, sel.name)
		case 1:
			return cands[0], nil
		}
		return nil, fmt.Errorf("%d unclaimed %ss are named %q; choose one with sd-listen:%s:INDEX", len(cands), what, sel.name, sel.name)
	}
	for i := range s.fds {
		if e := &s.fds[i]; !e.claimed && fits(e) {
			cands = append(cands, e)
		}
	}
	cands = servableFirst(cands)
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no unclaimed %s was inherited", what)
	case 1:
		return cands[0], nil
	}
	return nil, fmt.Errorf("%d unclaimed %ss were inherited; choose one with sd-listen:NAME", len(cands), what)
}

// servableFirst returns the candidates of a family the net package
// serves, if there are any, and else all of them, so that a vsock
// listener or a netlink socket beside the one TCP listener or UDP socket
// makes no ambiguity, and a lone one gets the error its conversion gives.
// The caller holds the lock.
func servableFirst(cands []*inheritedFD) []*inheritedFD {
	var served []*inheritedFD
	for _, e := range cands {
		if describe(e); e.network() != "other" {
			served = append(served, e)
		}
	}
	if len(served) == 0 {
		return cands
	}
	return served
}

// usable returns e if it is an unclaimed fd of the wanted kind.
func usable(e *inheritedFD, fits func(*inheritedFD) bool, what string) (*inheritedFD, error) {
	switch {
	case e.claimed:
		return nil, fmt.Errorf("fd %d (%q) is already claimed", e.fd, e.name)
	case !fits(e):
		return nil, fmt.Errorf("fd %d (%q) is not a %s", e.fd, e.name, what)
	}
	return e, nil
}

// named returns the fds called name that keep accepts, in fd order.
func (s *fdSet) named(name string, keep func(*inheritedFD) bool) []*inheritedFD {
	var fds []*inheritedFD
	for i := range s.fds {
		if e := &s.fds[i]; e.name == name && keep(e) {
			fds = append(fds, e)
		}
	}
	return fds
}

func (s *fdSet) hasName(name string) bool {
	return len(s.named(name, func(*inheritedFD) bool { return true })) > 0
}

// summary lists the inherited fds for an error message.
func (s *fdSet) summary() string {
	parts := make([]string, len(s.fds))
	for i := range s.fds {
		parts[i] = s.fds[i].info().String()
	}
	return strings.Join(parts, "; ")
}

// claimBoundTo claims the unclaimed fitting socket that address names for
// network, if there is one; ok reports whether it did. Whatever can block
// (resolving a host name, looking at files) runs between the two times it
// holds the package's lock, never under it: the first use also holds
// syscall.ForkLock, and a slow resolver would stall every os/exec.
func claimBoundTo[T io.Closer](network, address string, fits func(*inheritedFD) bool, convert converter[T]) (v T, ok bool, err error) {
	t, parsed := parseTarget(network, address)
	var cands []candidate
	_, err = use(func(s *fdSet) error {
		if parsed {
			cands = s.candidates(t, fits)
		}
		return nil
	})
	if err != nil || len(cands) == 0 {
		return v, false, err
	}
	matched := t.match(cands)
	if len(matched) == 0 {
		return v, false, nil
	}
	_, err = use(func(s *fdSet) error {
		for _, i := range matched {
			e := &s.fds[i]
			if e.claimed || !fits(e) {
				continue // another goroutine took it meanwhile
			}
			val, err := valueOf(e, convert, nil)
			if err == errNotServable {
				continue
			}
			if err != nil {
				return err
			}
			e.claim(val)
			v, ok = val, true
			return nil
		}
		return nil
	})
	return v, ok, err
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

// candidates lists the unclaimed fitting sockets that t may name; the
// caller holds the lock.
func (s *fdSet) candidates(t target, fits func(*inheritedFD) bool) []candidate {
	var cands []candidate
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !fits(e) {
			continue
		}
		describe(e)
		if !t.mayBe(e.laddr) {
			continue
		}
		c := candidate{index: i, laddr: e.laddr}
		e.withFD(func(fd int) {
			switch a := e.laddr.(type) {
			case *net.TCPAddr:
				c.v6only = a.IP.To4() == nil && isV6Only(fd)
			case *net.UDPAddr:
				c.v6only = a.IP.To4() == nil && isV6Only(fd)
			case *net.UnixAddr:
				if !strings.HasPrefix(a.Name, "@") {
					c.sock = unixSockID(fd)
				}
			}
		})
		cands = append(cands, c)
	}
	return cands
}

// withFD calls f with an fd that holds e's socket: e's own, or, once that
// is closed, the one inside the value a failed call parked on e (the
// closed fd's number may hold another file by now). The caller holds the
// lock.
func (e *inheritedFD) withFD(f func(fd int)) {
	if !e.closed {
		f(int(e.fd))
		return
	}
	if sc, ok := e.parked.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(s uintptr) { f(int(s)) })
		}
	}
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
	if match, known := socketBoundTo(sock, want); known {
		return match
	}
	if !filepath.IsAbs(name) {
		return false
	}
	got, err := fileOf(name)
	return err == nil && got == want
}

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
