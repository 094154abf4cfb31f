//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxStored is the default --fdstore-max.
const maxStored = 256

// notifier is the NOTIFY_SOCKET of --notify: it reads the program's
// notifications, keeps the fd store they fill and the program's state as
// a service manager sees it (manager_unix.go), and asks the activator to
// stop the program when the start timeout or the watchdog fires.
type notifier struct {
	path   string // the socket, in a directory of its own
	stderr io.Writer
	cfg    notifyConfig
	creds  bool             // messages name their sender
	stops  chan stopRequest // to the activator, one per run at most
	done   chan struct{}    // closed when watch returns

	mu       sync.Mutex // serializes drain and guards the fields below
	closed   bool
	sock     int // non-blocking unixgram socket
	wakeR    int // non-blocking pipe: a byte written to wakeW wakes watch
	wakeW    int // to look at the store and the deadlines again or to return
	store    []storedFD
	svc      service      // the program's current run
	next     service      // with --watch, a new build's program that has not taken over yet; pid 0 for none
	retiring map[int]bool // programs stopped after a switch, until they exit
	buf      []byte
	oob      []byte
	readyc   chan struct{} // see readyEvents
}

// notifyConfig is how the notifier treats the program: the options
// named after the systemd unit settings they stand for.
type notifyConfig struct {
	access       string        // NotifyAccess=: "main", "exec", "all"; "" for the default
	startTimeout time.Duration // TimeoutStartSec=; 0 for none
	watchdog     time.Duration // WatchdogSec=; 0 for none
	storeMax     int           // FileDescriptorStoreMax=
}

// storedFD is an fd kept by FDSTORE=1. The notifier owns file.
type storedFD struct {
	file *os.File
	fd   int // file's, polled without file.Fd, which would make it blocking
	name string
	poll bool // dropped on POLLHUP or POLLERR: not stored with FDPOLL=0
}

// newNotifier binds a datagram socket in a new temporary directory and
// starts reading it and watching the store and the deadlines. Where
// messages do not name their sender, the access is "all"; asking for
// "main" or "exec" there is an error.
func newNotifier(stderr io.Writer, cfg notifyConfig) (*notifier, error) {
	dir, err := os.MkdirTemp("", "socket-activate-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n := &notifier{
		path:   filepath.Join(dir, "notify"),
		stderr: stderr,
		cfg:    cfg,
		// One request for the program that runs and one for a new
		// build's, with room for one that comes too late to count.
		stops:    make(chan stopRequest, 3),
		done:     make(chan struct{}),
		svc:      idle(),
		next:     idle(),
		retiring: map[int]bool{},
		// systemd reads at most PIPE_BUF bytes; a longer message is
		// truncated, and dropped.
		buf: make([]byte, 4096),
		// Room for the most fds one message can carry (SCM_MAX_FD on
		// Linux) and the sender's credentials.
		oob: make([]byte, unix.CmsgSpace(253*4)+credentialSpace),
	}
	fd, err := newSocket(unix.AF_UNIX, unix.SOCK_DGRAM)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if n.creds, err = setupNotify(fd, n.path); err != nil {
		unix.Close(fd)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	switch {
	case n.creds && n.cfg.access == "":
		n.cfg.access = "main"
	case !n.creds && n.cfg.access == "":
		n.cfg.access = "all"
		fmt.Fprintf(stderr, "socket-activate: notify access: all (%s does not tell which process sent a notification)\n", runtime.GOOS)
	case !n.creds && n.cfg.access != "all":
		unix.Close(fd)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("--notify-access=%s needs to know which process sent a notification, which %s does not tell; use --notify-access=all", n.cfg.access, runtime.GOOS)
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

// setupNotify makes fd non-blocking, asks for the sender's credentials
// where the system has them and binds it to path. It reports whether
// messages will name their sender.
func setupNotify(fd int, path string) (creds bool, err error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	if creds, err = passCredentials(fd); err != nil {
		return false, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return false, os.NewSyscallError("bind", err)
	}
	return creds, nil
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

// watch handles notifications as they arrive, drops stored fds that hang
// up, as systemd does, and fires the start timeout and the watchdog, until
// close.
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
		wait := n.untilDeadline()
		n.mu.Unlock()
		_, err := unix.Poll(pfds, wait)
		n.checkDeadlines()
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
		var from origin
		from.pid, from.uid, from.known = sender(n.oob[:noob])
		n.handle(n.buf[:nb], fds, from)
	}
}

// keep adds fd to the store under name, unless the store holds the same
// open file description already (as systemd does, so that a program that
// stores again what it got back does not fill the store; the first FDPOLL
// stays). Two fds of one file opened twice, or the two ends of a pipe, are
// two entries. Unless poll is false, the fd is dropped once it reports
// POLLHUP or POLLERR. keep takes ownership of fd.
func (n *notifier) keep(fd int, name string, poll bool) error {
	if len(n.store) >= n.cfg.storeMax {
		unix.Close(fd)
		return errStoreFull
	}
	for _, s := range n.store {
		same, err := sameFile(s.fd, fd)
		if err != nil {
			unix.Close(fd)
			return err
		}
		if same {
			unix.Close(fd)
			return nil
		}
	}
	if poll && !pollable(fd) {
		// systemd refuses what its event loop cannot watch, unless
		// FDPOLL=0 says not to.
		unix.Close(fd)
		return fmt.Errorf("fd named %q not kept: it cannot be watched for hang-ups (an O_PATH handle), so it must be stored with FDPOLL=0, as systemd requires", name)
	}
	n.store = append(n.store, storedFD{file: os.NewFile(uintptr(fd), name), fd: fd, name: name, poll: poll})
	if poll {
		n.wake()
	}
	return nil
}

// pollable reports whether poll can watch fd: not an O_PATH handle, for
// which it reports POLLNVAL.
func pollable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	for {
		_, err := unix.Poll(pfd, 0)
		if err != unix.EINTR {
			return err != nil || pfd[0].Revents&unix.POLLNVAL == 0
		}
	}
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

// handOver begins a run: it drops the stored fds that hung up, then calls
// start with the others, their names (to pass after the sockets) and the
// variables the program gets from the notifier. start returns the pid of
// the program it started, which becomes the main process. The
// notifier stays locked until start returns, so that no fd is closed
// before the program has its copy and no message of the program is read
// before its pid is known. The notifier keeps owning the files.
func (n *notifier) handOver(start func(files []*os.File, names, env []string) (pid int, err error)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	files, names, env := n.handOverLocked()
	// Said before the program runs, so that its output comes after.
	n.setActive(&n.svc, "activating (start)")
	pid, err := start(files, names, env)
	switch {
	case err != nil:
		n.setActive(&n.svc, "failed (Result: resources)")
	case pid > 0:
		n.started(pid)
	}
	return err
}

// handOverNext begins the run of a new build's program while the program
// that runs goes on, as handOver does: the new one is not the main
// process until switchTo, but its messages count (its READY=1 is what
// readyEvents reports), and it has startTimeout to send READY=1, or
// fallback without --timeout-start-sec.
func (n *notifier) handOverNext(fallback time.Duration, start func(files []*os.File, names, env []string) (pid int, err error)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	files, names, env := n.handOverLocked()
	n.next = idle()
	n.next.label = "new program: "
	n.setActive(&n.next, "activating (start)")
	pid, err := start(files, names, env)
	if err != nil {
		n.setActive(&n.next, "failed (Result: resources)")
		n.next = idle()
		return err
	}
	n.begin(&n.next, pid)
	timeout := n.cfg.startTimeout
	if timeout == 0 {
		timeout = fallback
	}
	n.next.startDeadline = time.Now().Add(timeout)
	n.wake()
	return nil
}

// handOverLocked drops the stored fds that hung up and returns the
// others, their names, and the variables a program gets from the
// notifier. n.mu must be held.
func (n *notifier) handOverLocked() (files []*os.File, names, env []string) {
	n.pruneLocked()
	files = make([]*os.File, len(n.store))
	names = make([]string, len(n.store))
	for i, s := range n.store {
		files[i], names[i] = s.file, s.name
	}
	env = []string{"NOTIFY_SOCKET=" + n.path}
	if n.cfg.storeMax > 0 {
		env = append(env, "FDSTORE="+strconv.Itoa(n.cfg.storeMax))
	}
	if n.cfg.watchdog > 0 {
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(n.cfg.watchdog.Microseconds(), 10))
	}
	return files, names, env
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
