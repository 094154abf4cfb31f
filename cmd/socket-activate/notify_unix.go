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

	mu    sync.Mutex // serializes drain and guards store and sock
	sock  int        // non-blocking unixgram socket; -1 once closed
	store []storedFD
	buf   []byte
	oob   []byte
}

// storedFD is an fd kept by FDSTORE=1. The notifier owns file.
type storedFD struct {
	file     *os.File
	name     string
	dev, ino uint64
}

// newNotifier binds a datagram socket in a new temporary directory and
// starts reading it.
func newNotifier(stderr io.Writer) (*notifier, error) {
	dir, err := os.MkdirTemp("", "socket-activate-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n := &notifier{
		path:   filepath.Join(dir, "notify"),
		stderr: stderr,
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
	n.sock = fd
	go n.read(fd)
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

// read handles notifications as they arrive, until the socket is closed.
func (n *notifier) read(fd int) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(pfd, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pfd[0].Revents&unix.POLLNVAL != 0 || !n.drain() {
			return
		}
	}
}

// drain handles every notification waiting on the socket. It reports
// false once the socket is closed.
func (n *notifier) drain() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sock < 0 {
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
	for i, fd := range fds {
		if err := n.keep(fd, name); err != nil {
			fmt.Fprintf(n.stderr, "socket-activate: warning: fd store: %v\n", err)
			closeFDs(fds[i:])
			return
		}
	}
}

// keep adds fd to the store under name, unless the same file is there
// already (as systemd does, so that a program that stores again what it
// got back does not fill the store). It takes ownership of fd.
func (n *notifier) keep(fd int, name string) error {
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
	n.store = append(n.store, storedFD{file: os.NewFile(uintptr(fd), name), name: name, dev: dev, ino: ino})
	return nil
}

// remove closes and drops every stored fd named name.
func (n *notifier) remove(name string) {
	kept := n.store[:0]
	for _, s := range n.store {
		if s.name == name {
			s.file.Close()
			continue
		}
		kept = append(kept, s)
	}
	clear(n.store[len(kept):])
	n.store = kept
}

// stored returns the stored fds and their names, to pass after the
// sockets. The notifier keeps owning the files.
func (n *notifier) stored() ([]*os.File, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	files := make([]*os.File, len(n.store))
	names := make([]string, len(n.store))
	for i, s := range n.store {
		files[i], names[i] = s.file, s.name
	}
	return files, names
}

// close closes the socket and the stored fds and removes the socket's
// directory.
func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sock >= 0 {
		unix.Close(n.sock)
		n.sock = -1
	}
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
