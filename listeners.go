package activation

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// toListener makes a net.Listener of a listening socket. The listener
// holds a duplicate of the fd; valueOf closes the original.
func toListener(e *inheritedFD) (net.Listener, error) {
	l, err := net.FileListener(e.osFile())
	if err != nil {
		return nil, conversionError(e, "listener", err)
	}
	e.learn(l.Addr(), nil)
	return l, nil
}

// toPacketConn makes a net.PacketConn of a datagram socket.
func toPacketConn(e *inheritedFD) (net.PacketConn, error) {
	pc, err := net.FilePacketConn(e.osFile())
	if err != nil {
		return nil, conversionError(e, "datagram socket", err)
	}
	e.learn(pc.LocalAddr(), nil)
	return pc, nil
}

// toConn makes a net.Conn of a connected stream or seqpacket socket. A
// stream socket that is neither listening nor connected is not servable.
func toConn(e *inheritedFD) (net.Conn, error) {
	c, err := net.FileConn(e.osFile())
	if err != nil {
		return nil, conversionError(e, "connection", err)
	}
	if c.RemoteAddr() == nil {
		c.Close()
		e.class = otherSocket
		return nil, errNotServable
	}
	e.learn(c.LocalAddr(), c.RemoteAddr())
	return c, nil
}

// conversionError tells a socket the net package does not serve (which is
// reclassified and skipped) from a real failure.
func conversionError(e *inheritedFD, as string, err error) error {
	describe(e)
	switch e.network() {
	case "tcp", "tcp6", "udp", "udp6", "unix", "unixgram", "unixpacket":
		return fmt.Errorf("activation: fd %d (%q) as a %s: %w", e.fd, e.name, as, err)
	}
	e.class = otherSocket
	return errNotServable
}

const selectorPrefix = "sd-listen"

// claim serves Listen and ListenPacket: the inherited socket the address
// selects or is bound to, or else what fallback makes.
func claim[T io.Closer](network, address string, fits func(*inheritedFD) bool, convert converter[T], what string, fallback func() (T, error)) (T, error) {
	var v T
	var ok bool
	selector := isSelector(address)
	found, err := use(func(s *fdSet) (err error) {
		if selector {
			v, err = claimSelected(s, network, address, fits, convert, what)
			return err
		}
		v, ok, err = claimBoundTo(s, network, address, fits, convert)
		return err
	})
	switch {
	case err != nil:
		var zero T
		return zero, err
	case selector && !found:
		var zero T
		return zero, fmt.Errorf("activation: listen %s %s: nothing was inherited", network, address)
	case selector || ok:
		return v, nil
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
	if err != nil {
		return zero, err
	}
	e, err := s.selectFD(sel, fits, what)
	if err == nil {
		var v T
		v, err = valueOf(e, convert)
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
		cands = s.named(sel.name, func(e *inheritedFD) bool { return !e.claimed && fits(e) })
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
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no unclaimed %s was inherited", what)
	case 1:
		return cands[0], nil
	}
	return nil, fmt.Errorf("%d unclaimed %ss were inherited; choose one with sd-listen:NAME", len(cands), what)
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

// claimBoundTo claims the unclaimed fitting socket bound to address, if
// there is one; ok reports whether it did.
func claimBoundTo[T io.Closer](s *fdSet, network, address string, fits func(*inheritedFD) bool, convert converter[T]) (v T, ok bool, err error) {
	var zero T
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !fits(e) {
			continue
		}
		describe(e)
		if !boundTo(network, address, e.laddr) {
			continue
		}
		v, err := valueOf(e, convert)
		if err == errNotServable {
			continue
		}
		if err != nil {
			return zero, false, err
		}
		e.claim(v)
		return v, true, nil
	}
	return zero, false, nil
}

// boundTo reports whether a socket with local address laddr is what
// net.Listen(network, address) would bind: the same network family, port
// and IP address (an empty host is the wildcard), or the same unix socket
// path.
func boundTo(network, address string, laddr net.Addr) bool {
	switch a := laddr.(type) {
	case *net.TCPAddr:
		return (network == "tcp" || network == "tcp4" || network == "tcp6") && sameIPPort(network, address, a.IP, a.Port)
	case *net.UDPAddr:
		return (network == "udp" || network == "udp4" || network == "udp6") && sameIPPort(network, address, a.IP, a.Port)
	case *net.UnixAddr:
		return network == a.Net && sameUnixPath(address, a.Name)
	}
	return false
}

func sameIPPort(network, address string, ip net.IP, port int) bool {
	switch {
	case strings.HasSuffix(network, "4") && ip.To4() == nil:
		return false
	case strings.HasSuffix(network, "6") && ip.To4() != nil:
		return false
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	p, err := net.LookupPort(network, service)
	if err != nil || p != port {
		return false
	}
	if host == "" {
		return ip.IsUnspecified()
	}
	want := net.ParseIP(host)
	if want == nil {
		// A host name: what net.Listen would resolve it to.
		resolved, err := resolveIP(network, host)
		if err != nil {
			return false
		}
		want = resolved
	}
	return want.Equal(ip)
}

func resolveIP(network, host string) (net.IP, error) {
	ipNet := "ip"
	if strings.HasSuffix(network, "4") || strings.HasSuffix(network, "6") {
		ipNet += network[len(network)-1:]
	}
	a, err := net.ResolveIPAddr(ipNet, host)
	if err != nil {
		return nil, err
	}
	return a.IP, nil
}

func sameUnixPath(address, name string) bool {
	if address == name {
		return true
	}
	if strings.HasPrefix(address, "@") || strings.HasPrefix(name, "@") || address == "" || name == "" {
		return false
	}
	a, err1 := filepath.Abs(address)
	b, err2 := filepath.Abs(name)
	return err1 == nil && err2 == nil && a == b
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
			return selector{}, fmt.Errorf("activation: %q: %q is not a file descriptor number", address, rest)
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
