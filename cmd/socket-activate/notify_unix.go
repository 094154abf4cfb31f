//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxStored bounds the fd store; fds beyond it are closed with a warning.
const maxStored = 256

// notifier is the NOTIFY_SOCKET of --notify and the fd store it fills.
type notifier struct {
	path   string // the socket, in a directory of its own
	stderr io.Writer
	done   chan struct{} // closed when watch returns

	mu     sync.Mutex // serializes drain and guards the fields below
	closed bool
	sock   int // non-blocking unixgram socket
	wakeR  int // non-blocking pipe: a byte written to wakeW wakes watch
	wakeW  int // to look at the store again or to return
	store  []storedFD
	buf    []byte
	oob    []byte
	readyc chan struct{} // see readyEvents
}

// storedFD is an fd kept by FDSTORE=1. The notifier owns file.
type storedFD struct {
	file     *os.File
	fd       int // file's, polled without file.Fd, which would make it blocking
	name     string
	dev, ino uint64
	poll     bool // dropped on POLLHUP or POLLERR: not stored with FDPOLL=0
}

// newNotifier binds a datagram socket in a new temporary directory and
// starts reading it and watching the store.
func newNotifier(stderr io.Writer) (*notifier, error) {
	dir, err := os.MkdirTemp("", "socket-activate-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n := &notifier{
		path:   filepath.Join(dir, "notify"),
		stderr: stderr,
		done:   make(chan struct{}),
		buf:    make([]byte, 4096),
		// Room for the most fds one message can carry (SCM_MAX_FD on
		// Linux) and the sender's credentials.
		oob: make([]byte, unix.CmsgSpace(253*4)+unix.CmsgSpace(64)),
	}
	fd, err := newSocket(unix.AF_UNIX, unix.SOCK_DGRAM)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if err := setupNotify(fd, n.path); err != nil {
		unix.Close(fd)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	wake, err := newWakePipe()
	if err != nil {
		unix.Close(fd)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n.sock, n.wakeR, n.wakeW = fd, wake[0], wake[1]
	go n.watch()
	return n, nil
}

// setupNotify makes fd non-blocking, asks for credentials where the system
// has them and binds it to path.
func setupNotify(fd int, path string) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	if err := passCredentials(fd); err != nil {
		return os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// newWakePipe returns a pipe, both ends non-blocking and close-on-exec.
func newWakePipe() ([2]int, error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return p, os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			closeFDs(p[:])
			return p, os.NewSyscallError("fcntl", err)
		}
	}
	return p, nil
}

// watch handles notifications as they arrive and drops stored fds that
// hang up, as systemd does, until close.
//
// Its poll only wakes it: the fds it polls may have been dropped meanwhile
// (and their numbers reused), so prune looks at the store again under the
// lock before dropping anything.
func (n *notifier) watch() {
	defer close(n.done)
	var pfds []unix.PollFd
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return
		}
		pfds = append(pfds[:0],
			unix.PollFd{Fd: int32(n.sock), Events: unix.POLLIN},
			unix.PollFd{Fd: int32(n.wakeR), Events: unix.POLLIN})
		for _, s := range n.store {
			if s.poll {
				// No events: poll reports POLLHUP and POLLERR regardless.
				pfds = append(pfds, unix.PollFd{Fd: int32(s.fd)})
			}
		}
		n.mu.Unlock()
		_, err := unix.Poll(pfds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			n.warn("notify socket: %v", os.NewSyscallError("poll", err))
			return
		}
		if pfds[1].Revents != 0 {
			n.clearWake()
		}
		for _, p := range pfds[2:] {
			if p.Revents != 0 {
				n.prune()
				break
			}
		}
		if pfds[0].Revents&unix.POLLNVAL != 0 || (pfds[0].Revents != 0 && !n.drain()) {
			return
		}
	}
}

// warn prints a warning, unless the notifier is closed.
func (n *notifier) warn(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.closed {
		fmt.Fprintf(n.stderr, "socket-activate: warning: "+format+"\n", args...)
	}
}

// wake makes watch look at the store again. n.mu must be held.
func (n *notifier) wake() {
	// A full pipe already wakes watch: EAGAIN is fine.
	unix.Write(n.wakeW, []byte{0})
}

// clearWake empties the wake pipe.
func (n *notifier) clearWake() {
	var b [64]byte
	for range 100 {
		k, err := unix.Read(n.wakeR, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k < len(b) {
			return
		}
	}
}

// drain handles every notification waiting on the socket. It reports
// false once the notifier is closed.
func (n *notifier) drain() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	for {
		// ForkLock: received fds must be close-on-exec before any child
		// starts (not every system has MSG_CMSG_CLOEXEC).
		syscall.ForkLock.RLock()
		nb, noob, flags, _, err := unix.Recvmsg(n.sock, n.buf, n.oob, 0)
		var fds []int
		if err == nil {
			fds = receivedFDs(n.oob[:noob])
			for _, fd := range fds {
				unix.CloseOnExec(fd)
			}
		}
		syscall.ForkLock.RUnlock()
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return true
		case flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0:
			fmt.Fprintf(n.stderr, "socket-activate: warning: notification truncated; ignored\n")
			closeFDs(fds)
			continue
		}
		n.handle(n.buf[:nb], fds)
	}
}

// handle acts on one notification and takes ownership of fds.
func (n *notifier) handle(msg []byte, fds []int) {
	vars := map[string]string{}
	for _, line := range bytes.Split(msg, []byte("\n")) {
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			vars[string(k)] = string(v)
		}
	}
	if vars["READY"] == "1" {
		fmt.Fprintf(n.stderr, "socket-activate: ready\n")
		n.readied()
	}
	name, named := vars["FDNAME"]
	if named && !validFDName(name) {
		fmt.Fprintf(n.stderr, "socket-activate: warning: bad FDNAME %q ignored\n", name)
		closeFDs(fds)
		return
	}
	if vars["FDSTOREREMOVE"] == "1" && named {
		n.remove(name)
	}
	if vars["FDSTORE"] != "1" {
		if len(fds) > 0 {
			fmt.Fprintf(n.stderr, "socket-activate: warning: %d fds sent without FDSTORE=1 closed\n", len(fds))
		}
		closeFDs(fds)
		return
	}
	if !named {
		name = "stored"
	}
	poll := vars["FDPOLL"] != "0"
	for i, fd := range fds {
		if err := n.keep(fd, name, poll); err != nil {
			fmt.Fprintf(n.stderr, "socket-activate: warning: fd store: %v\n", err)
			closeFDs(fds[i:])
			return
		}
	}
}

// keep adds fd to the store under name, unless the same file is there
// already (as systemd does, so that a program that stores again what it
// got back does not fill the store; the first FDPOLL stays). Unless poll is
// false, the fd is dropped once it reports POLLHUP or POLLERR. keep takes
// ownership of fd.
func (n *notifier) keep(fd int, name string, poll bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("fstat", err)
	}
	dev, ino := uint64(st.Dev), uint64(st.Ino)
	for _, s := range n.store {
		if s.dev == dev && s.ino == ino && ino != 0 {
			unix.Close(fd)
			return nil
		}
	}
	if len(n.store) >= maxStored {
		unix.Close(fd)
		return fmt.Errorf("more than %d fds stored", maxStored)
	}
	n.store = append(n.store, storedFD{file: os.NewFile(uintptr(fd), name), fd: fd, name: name, dev: dev, ino: ino, poll: poll})
	if poll {
		n.wake()
	}
	return nil
}

// remove closes and drops every stored fd named name.
func (n *notifier) remove(name string) {
	n.drop(func(s storedFD) bool { return s.name == name })
}

// drop closes and drops every stored fd for which gone is true.
func (n *notifier) drop(gone func(storedFD) bool) {
	kept := n.store[:0]
	for _, s := range n.store {
		if gone(s) {
			s.file.Close()
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) < len(n.store) {
		n.wake()
	}
	clear(n.store[len(kept):])
	n.store = kept
}

// prune closes and drops the stored fds that report POLLHUP or POLLERR
// now, as systemd does, except those stored with FDPOLL=0. A listening
// socket never reports either; a connection does once its peer is gone
// (a TCP connection once it is reset, or shut down both ways).
func (n *notifier) prune() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.closed {
		n.pruneLocked()
	}
}

// pruneLocked is prune with n.mu held.
func (n *notifier) pruneLocked() {
	if len(n.store) == 0 {
		return
	}
	pfds := make([]unix.PollFd, len(n.store))
	for i, s := range n.store {
		pfds[i] = unix.PollFd{Fd: -1}
		if s.poll {
			pfds[i].Fd = int32(s.fd)
		}
	}
	for {
		_, err := unix.Poll(pfds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(n.stderr, "socket-activate: warning: fd store: %v\n", os.NewSyscallError("poll", err))
			return
		}
		break
	}
	hungUp := map[*os.File]bool{}
	for i, p := range pfds {
		if p.Revents&(unix.POLLHUP|unix.POLLERR) == 0 {
			continue
		}
		s := n.store[i]
		hungUp[s.file] = true
		event := "POLLHUP"
		if p.Revents&unix.POLLERR != 0 {
			event = "POLLERR"
		}
		fmt.Fprintf(n.stderr, "socket-activate: fd store: closed the fd named %q: it reported %s\n", s.name, event)
	}
	if len(hungUp) > 0 {
		n.drop(func(s storedFD) bool { return hungUp[s.file] })
	}
}

// handOver drops the stored fds that hung up, then calls start with the
// others and their names, to pass after the sockets. The store stays
// locked until start returns, so that no fd is closed before the program
// has its copy. The notifier keeps owning the files.
func (n *notifier) handOver(start func(files []*os.File, names []string) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pruneLocked()
	files := make([]*os.File, len(n.store))
	names := make([]string, len(n.store))
	for i, s := range n.store {
		files[i], names[i] = s.file, s.name
	}
	return start(files, names)
}

// close stops watch, closes the socket and the stored fds and removes the
// socket's directory.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.wake()
	n.mu.Unlock()
	<-n.done
	n.mu.Lock()
	defer n.mu.Unlock()
	closeFDs([]int{n.sock, n.wakeR, n.wakeW})
	for _, s := range n.store {
		s.file.Close()
	}
	n.store = nil
	os.RemoveAll(filepath.Dir(n.path))
}

// receivedFDs returns the fds of every SCM_RIGHTS message in oob.
func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}

// closeFDs closes fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
