package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
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
type inheritedFD struct {
	fd    int
	name  string
	kind  Kind
	class sockClass

	described    bool // network, laddr and raddr are known
	network      string
	laddr, raddr net.Addr

	claimed bool
	// file wraps fd once a conversion has needed it. It is kept here so
	// that a failed conversion leaves it reachable: an *os.File that is
	// garbage collected closes its fd.
	file *os.File
}

func (e *inheritedFD) osFile() *os.File {
	if e.file == nil {
		e.file = os.NewFile(uintptr(e.fd), e.name)
	}
	return e.file
}

// info describes e; the caller holds the set's lock.
func (e *inheritedFD) info() Info {
	describe(e)
	return Info{
		FD:         e.fd,
		Name:       e.name,
		Kind:       e.kind,
		Network:    e.network,
		Listening:  e.class == listenerSocket,
		LocalAddr:  e.laddr,
		RemoteAddr: e.raddr,
		Claimed:    e.claimed,
	}
}

// learn records the addresses of a socket from the value made of it.
func (e *inheritedFD) learn(laddr, raddr net.Addr) {
	e.laddr, e.raddr = laddr, raddr
	e.network = networkOf(laddr)
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

func isListener(e *inheritedFD) bool { return e.class == listenerSocket }
func isDatagram(e *inheritedFD) bool { return e.class == datagramSocket }
func isStream(e *inheritedFD) bool   { return e.class == streamSocket }

// fdSet is the process's inherited fds.
type fdSet struct {
	mu  sync.Mutex
	fds []inheritedFD
}

var process struct {
	once sync.Once
	set  *fdSet // nil when nothing was inherited or the environment was bad
	err  error
}

// inherited reads the environment on the first call and returns the same
// result on every call.
func inherited() (*fdSet, error) {
	process.once.Do(func() {
		fds, err := inherit(processEnviron())
		if len(fds) > 0 {
			process.set = &fdSet{fds: fds}
		}
		process.err = err
	})
	return process.set, process.err
}

func (s *fdSet) describeAll() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// A converter makes a value of an unclaimed fd. It may return
// errNotServable, and then it has created nothing.
type converter[T io.Closer] func(e *inheritedFD) (T, error)

// handOver is the converter of Files: the fd itself, as an *os.File.
func handOver(e *inheritedFD) (*os.File, error) {
	describe(e) // while the fd is still the package's to look at
	return e.osFile(), nil
}

// take converts every unclaimed fd that fits and claims them all, or, when
// a conversion fails, closes what it made and claims none.
func take[T io.Closer](s *fdSet, fits func(*inheritedFD) bool, convert converter[T]) ([]T, []*inheritedFD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vals []T
	var fds []*inheritedFD
	for i := range s.fds {
		e := &s.fds[i]
		if e.claimed || !fits(e) {
			continue
		}
		v, err := convert(e)
		if err == errNotServable {
			continue
		}
		if err != nil {
			closeAll(vals)
			return nil, nil, err
		}
		vals = append(vals, v)
		fds = append(fds, e)
	}
	if err := commit(vals, fds); err != nil {
		closeAll(vals)
		return nil, nil, err
	}
	return vals, fds, nil
}

// commit claims fds, of which vals have been made. A value made by the net
// package holds a duplicate of its fd, so the original is closed here; an
// *os.File handed out by Files is the original and stays open. The caller
// holds the set's lock.
func commit[T any](vals []T, fds []*inheritedFD) error {
	var errs []error
	for i, e := range fds {
		e.claimed = true
		f := e.file
		e.file = nil
		if f == nil || any(vals[i]) == any(f) {
			continue
		}
		if err := f.Close(); err != nil {
			// Only a close behind the package's back makes this fail; the
			// fd is gone either way, and the caller must hear of it.
			errs = append(errs, fmt.Errorf("activation: fd %d (%q) was closed by someone else: %w", e.fd, e.name, err))
		}
	}
	return errors.Join(errs...)
}

func closeAll[T io.Closer](vals []T) {
	for _, v := range vals {
		v.Close()
	}
}

// byName groups values by the names of the fds they were made of.
func byName[T any](vals []T, fds []*inheritedFD) map[string][]T {
	if vals == nil {
		return nil
	}
	m := make(map[string][]T)
	for i, v := range vals {
		m[fds[i].name] = append(m[fds[i].name], v)
	}
	return m
}
