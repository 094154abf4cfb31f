package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

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

// withFDs runs f on the inherited fds with the set's lock held, if
// anything was inherited, and reports whether it was.
//
// The first call reads the environment. It holds syscall.ForkLock for
// reading from then until the fds that f has not closed are marked
// close-on-exec, as the standard library does while it makes an fd that
// is not yet close-on-exec: so no child can inherit them, and an fd that f
// converts and closes at once needs no marking of its own. Where
// duplicating an fd takes syscall.ForkLock itself (AIX), as f's
// conversions do, the first call marks the fds and lets ForkLock go
// before f instead.
//
// The first call takes the set's lock inside the once, before any other
// call can: a call that held the lock while the first waited for it, with
// syscall.ForkLock held for reading, could otherwise deadlock with an
// os/exec waiting to fork (where duplicating an fd takes ForkLock too).
func withFDs(f func(*fdSet) error) (bool, error) {
	s := &process.set
	first := false
	process.once.Do(func() {
		first = true
		holdForks()
		s.mu.Lock()
		s.fds, process.err = inherit(processEnviron())
		if dupTakesForkLock {
			// The conversions would take syscall.ForkLock again, which
			// deadlocks with an os/exec waiting to fork: mark the fds
			// now, and let forks go on.
			s.markHeld()
			releaseForks()
		}
	})
	if first {
		if !dupTakesForkLock {
			defer releaseForks()
		}
		defer s.mu.Unlock()
	}
	if len(s.fds) == 0 {
		return false, process.err
	}
	if !first {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	defer s.markHeld()
	return true, f(s)
}

// readOnce does the first call's work, if no call has yet, for a call that
// fails on its arguments: the environment is read and unset and the fds
// marked close-on-exec all the same, so nothing stays inheritable.
func readOnce() {
	withFDs(func(*fdSet) error { return nil })
}

// takeAll is take on the process's fds.
func takeAll[T io.Closer](c conversion[T]) ([]T, error) {
	return takeEach(c, nil)
}

// takeNamed is takeAll that also returns the name of each value's fd.
func takeNamed[T io.Closer](c conversion[T]) ([]T, []string, error) {
	var names []string
	vals, err := takeEach(c, func(e *inheritedFD) { names = append(names, e.name) })
	return vals, names, err
}

// takeEach is take on the process's fds, calling each, if not nil, for
// every fd it hands out, in fd order.
func takeEach[T io.Closer](c conversion[T], each func(*inheritedFD)) ([]T, error) {
	var vals []T
	_, err := withFDs(func(s *fdSet) (err error) {
		vals, err = take(s, c, each)
		return err
	})
	return vals, err
}

// markHeld marks every fd the package still holds close-on-exec, once.
// The caller holds the lock.
func (s *fdSet) markHeld() {
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

// take converts every unclaimed fd that fits and claims them all, or, when
// one conversion fails, claims none: the values already made are parked
// on their fds, unclaimed, for a later call to hand out. It calls each,
// if not nil, for every fd it claims, in fd order.
// The caller holds the lock.
func take[T io.Closer](s *fdSet, c conversion[T], each func(*inheritedFD)) ([]T, error) {
	var vals []T
	var car *carrier
	if _, files := any(vals).([]*os.File); !files && s.fitting(c.fdKind) > 1 {
		car = new(carrier)
		defer car.close()
	}
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !c.fits(e) {
			continue
		}
		v, err := valueOf(e, c.convert, car)
		if err == errNotServable {
			continue
		}
		if err == errPeerGone {
			e.drop()
			continue
		}
		if err != nil {
			settle(s, vals, func(e *inheritedFD, v T) { e.park(v) })
			return nil, err
		}
		if vals == nil {
			vals = make([]T, 0, len(s.fds)-i)
		}
		vals = append(vals, v)
		e.pending = true
	}
	settle(s, vals, func(e *inheritedFD, v T) {
		if each != nil {
			each(e)
		}
		e.claim(v)
	})
	return vals, nil
}

// fitting counts the unclaimed fds of kind k, up to two: a carrier pays
// only for a second one. The caller holds the lock.
func (s *fdSet) fitting(k fdKind) int {
	n := 0
	for i := range s.fds {
		if e := &s.fds[i]; !e.claimed && k.fits(e) {
			if n++; n == 2 {
				break
			}
		}
	}
	return n
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

// drop closes what the package holds of e and claims it with nothing to
// hand out: a stored connection whose peer is gone.
func (e *inheritedFD) drop() {
	describe(e) // while its fd is open, for Inherited
	switch {
	case e.parked != nil:
		e.parked.Close()
	case e.file != nil:
		e.file.Close()
	case !e.closed:
		closeFD(int(e.fd))
	}
	e.claimed, e.closed, e.file, e.parked = true, true, nil, nil
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

// groupByName groups values by the names of the fds they were made of.
func groupByName[T any](vals []T, names []string) map[string][]T {
	if vals == nil {
		return nil
	}
	m := make(map[string][]T)
	for i, v := range vals {
		m[names[i]] = append(m[names[i]], v)
	}
	return m
}

// takeAddress serves Listen and ListenPacket: the inherited socket the
// address selects or is bound to, or else what fallback makes.
func takeAddress[T io.Closer](network, address string, c conversion[T], fallback func() (T, error)) (T, error) {
	var zero T
	if isSelector(address) {
		var v T
		found, err := withFDs(func(s *fdSet) (err error) {
			v, err = takeSelected(s, address, c)
			return err
		})
		switch {
		case err != nil:
			return zero, err
		case !found:
			if _, err := parseSelector(address, func(string) bool { return false }); err != nil {
				return zero, fmt.Errorf("activation: %w; nothing was inherited", err)
			}
			return zero, errors.New("activation: nothing was inherited")
		}
		return v, nil
	}
	v, ok, err := takeBound(network, address, c)
	if err != nil || ok {
		return v, err
	}
	return fallback()
}

// takeSelected takes the fd that an sd-listen or fd: address selects.
func takeSelected[T io.Closer](s *fdSet, address string, c conversion[T]) (T, error) {
	var zero T
	sel, err := parseSelector(address, s.hasName)
	var e *inheritedFD
	if err == nil {
		e, err = s.selectFD(sel, c.fdKind)
	}
	if err == nil {
		var v T
		v, err = valueOf(e, c.convert, nil)
		if err == nil {
			e.claim(v)
			return v, nil
		}
		if err != errNotServable {
			return zero, err
		}
		err = fmt.Errorf("the net package cannot serve fd %d (%q), %s, as a %s", e.fd, e.name, e.info().noun(), c.what)
	}
	return zero, fmt.Errorf("activation: %w; inherited: %s", err, s.summary())
}

// selectFD finds the fd sel names; the caller holds the lock.
func (s *fdSet) selectFD(sel selector, k fdKind) (*inheritedFD, error) {
	var cands []*inheritedFD
	switch {
	case sel.byFD:
		for i := range s.fds {
			if int(s.fds[i].fd) == sel.fd {
				return usable(&s.fds[i], k)
			}
		}
		return nil, fmt.Errorf("fd %d was not inherited", sel.fd)
	case sel.byIndex:
		named := s.named(sel.name, func(*inheritedFD) bool { return true })
		if sel.index >= len(named) {
			return nil, fmt.Errorf("asked for fd %d named %q, but %d fds have that name", sel.index, sel.name, len(named))
		}
		return usable(named[sel.index], k)
	case sel.byName:
		cands = servableFirst(s.named(sel.name, func(e *inheritedFD) bool { return !e.claimed && k.fits(e) }))
		switch len(cands) {
		case 0:
			return nil, fmt.Errorf("no unclaimed %s is named %q", k.what, sel.name)
		case 1:
			return cands[0], nil
		}
		return nil, fmt.Errorf("%d unclaimed %ss are named %q; choose one with sd-listen:%s:INDEX", len(cands), k.what, sel.name, sel.name)
	}
	for i := range s.fds {
		if e := &s.fds[i]; !e.claimed && k.fits(e) {
			cands = append(cands, e)
		}
	}
	cands = servableFirst(cands)
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no unclaimed %s was inherited", k.what)
	case 1:
		return cands[0], nil
	}
	return nil, fmt.Errorf("%d unclaimed %ss were inherited; choose one with sd-listen:NAME", len(cands), k.what)
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
func usable(e *inheritedFD, k fdKind) (*inheritedFD, error) {
	switch {
	case e.claimed:
		return nil, fmt.Errorf("fd %d (%q) is already claimed", e.fd, e.name)
	case !k.fits(e):
		return nil, fmt.Errorf("fd %d (%q) is not a %s", e.fd, e.name, k.what)
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

// takeBound takes the unclaimed fitting socket that address names for
// network, if there is one; ok reports whether it did. Whatever can block
// (resolving a host name, looking at files) runs between the two times it
// holds the package's lock, never under it: the first call also holds
// syscall.ForkLock, and a slow resolver would stall every os/exec.
func takeBound[T io.Closer](network, address string, c conversion[T]) (v T, ok bool, err error) {
	t, parsed := parseTarget(network, address)
	var cands []candidate
	_, err = withFDs(func(s *fdSet) error {
		if parsed {
			cands = s.candidates(t, c.fdKind)
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
	_, err = withFDs(func(s *fdSet) error {
		for _, i := range matched {
			e := &s.fds[i]
			if e.claimed || !c.fits(e) {
				continue // another goroutine took it meanwhile
			}
			val, err := valueOf(e, c.convert, nil)
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

// candidates lists the unclaimed fitting sockets that t may name; the
// caller holds the lock.
func (s *fdSet) candidates(t target, k fdKind) []candidate {
	var cands []candidate
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !k.fits(e) {
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
