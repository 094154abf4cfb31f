//go:build unix

package main

// The test binary plays three parts, chosen in TestMain: the shim, the
// command itself (run by the tests as a separate process) and the programs
// it starts (helpers, selected by SA_TEST_HELPER, which the tests pass
// with -E since the programs get a fresh environment).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	runMainEnv = "SA_TEST_RUN_MAIN"   // run the command
	helperEnv  = "SA_TEST_HELPER"     // run a helper program
	exitEnv    = "SA_TEST_EXIT_AFTER" // "report" exits after this many requests
	stateEnv   = "SA_TEST_STATE"      // a file "store" creates on its first run
	fdpollEnv  = "SA_TEST_FDPOLL"     // "store-conn" adds it to its FDSTORE=1 message
	codeEnv    = "SA_TEST_CODE"       // "exit" exits with it; "kill-self" sends itself this signal
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(shimEnv) != "":
		os.Exit(shim(os.Args, os.Environ()))
	case os.Getenv(runMainEnv) == "1":
		os.Unsetenv(runMainEnv)
		exit(run(os.Args[1:], os.Stdout, os.Stderr))
	case os.Getenv(helperEnv) != "":
		os.Exit(helper(os.Getenv(helperEnv)))
	}
	// Fds this test process inherited from whatever ran it would reach
	// every process it starts: only those a test passes on purpose may.
	markInheritedCloseOnExec()
	os.Exit(m.Run())
}

// moreHelpers are the helper programs of files for some systems only.
var moreHelpers = map[string]func() error{}

// helper runs the helper program name and returns its exit status.
func helper(name string) int {
	if h, ok := notifyHelpers[name]; ok {
		// These check the variables themselves, LISTEN_PID included.
		return runHelper(name, h)
	}
	// Every other helper but view, which reports what it got, checks
	// LISTEN_PID.
	if name != "view" && os.Getenv("LISTEN_FDS") != "" && os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		fmt.Fprintf(os.Stderr, "helper: LISTEN_PID=%q but pid is %d\n", os.Getenv("LISTEN_PID"), os.Getpid())
		return 97
	}
	var err error
	switch name {
	case "report":
		err = reportAndServe()
	case "view":
		err = viewAndServe()
	case "view-wait":
		err = viewAndWait()
	case "exit":
		code, _ := strconv.Atoi(os.Getenv(codeEnv))
		return code
	case "kill-self":
		sig, _ := strconv.Atoi(os.Getenv(codeEnv))
		syscall.Kill(os.Getpid(), syscall.Signal(sig))
		time.Sleep(timeout)
		return 99
	case "sleep":
		fmt.Println("waiting")
		time.Sleep(2 * timeout)
		return 99
	case "conn-hold":
		err = holdConn()
	case "conn":
		err = answerConn()
	case "inetd":
		err = answerInetd()
	case "inetd-listen":
		err = answerInetdListener()
	case "fail":
		return 3
	case "signal":
		err = awaitSignal()
	case "store":
		err = useStore()
	case "store-conn":
		err = storeConn()
	case "own-listener":
		err = ownListener()
	default:
		if h, ok := moreHelpers[name]; ok {
			err = h()
		} else {
			err = fmt.Errorf("unknown helper %q", name)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 98
	}
	return 0
}

// report is what a program found at its start.
type report struct {
	Env     []string // sorted, LISTEN_PID left out
	FDs     []string // each passed fd described by describeFD
	Pending bool     // fd 3 was readable at once: activation waited for traffic
}

// listenFDs returns LISTEN_FDS as a number.
func listenFDs() (int, error) {
	return strconv.Atoi(os.Getenv("LISTEN_FDS"))
}

// describeFD describes fd: socket type and address, plus "nonblock" and
// "cloexec" when set (neither should be).
func describeFD(fd int) string {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Sprintf("not a socket: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Sprintf("getsockname: %v", err)
	}
	d := map[int]string{unix.SOCK_STREAM: "stream", unix.SOCK_DGRAM: "dgram", unix.SOCK_SEQPACKET: "seqpacket"}[typ] + " " + formatSockaddr(sa)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		d += " nonblock"
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC != 0 {
		d += " cloexec"
	}
	return d
}

// reportAndServe prints a report on stdout, then serves every socket.
func reportAndServe() error {
	n, err := listenFDs()
	if err != nil {
		return err
	}
	r := report{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_PID=") {
			r.Env = append(r.Env, kv)
		}
	}
	sort.Strings(r.Env)
	for fd := 3; fd < 3+n; fd++ {
		r.FDs = append(r.FDs, describeFD(fd))
	}
	pfd := []unix.PollFd{{Fd: 3, Events: unix.POLLIN}}
	if k, err := unix.Poll(pfd, 0); err == nil && k == 1 {
		r.Pending = true
	}
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", out)
	var fds []int
	for fd := 3; fd < 3+n; fd++ {
		fds = append(fds, fd)
	}
	serve(fds)
	return nil
}

// serve answers every request on the sockets fds until SIGTERM or SIGINT,
// or until SA_TEST_EXIT_AFTER requests: on a stream socket a line in and
// "pid PID fd FD" out, on a datagram socket a datagram in and the same
// out.
func serve(fds []int) {
	exitAfter, _ := strconv.Atoi(os.Getenv(exitEnv))
	s := &server{exitAfter: exitAfter, done: make(chan struct{})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd))
		// Each serving loop counts as a handler, so that stop cannot return
		// between an Accept and the handler it starts.
		if l, err := net.FileListener(f); err == nil {
			s.listeners = append(s.listeners, l)
			s.handlers.Add(1)
			go s.serveStream(l, fd)
		} else if c, err := net.FilePacketConn(f); err == nil {
			s.packetConns = append(s.packetConns, c)
			s.handlers.Add(1)
			go s.servePackets(c, fd)
		}
		f.Close()
	}
	select {
	case <-sigs:
	case <-s.done:
	}
	s.stop()
}

// server answers requests for serve.
type server struct {
	exitAfter   int
	listeners   []net.Listener
	packetConns []net.PacketConn
	handlers    sync.WaitGroup
	mu          sync.Mutex
	served      int
	done        chan struct{} // closed once exitAfter requests are answered
	stopOnce    sync.Once
}

// stop stops accepting and waits for the requests being answered.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		for _, l := range s.listeners {
			l.Close()
		}
		for _, c := range s.packetConns {
			c.Close()
		}
	})
	s.handlers.Wait()
}

// count counts a request; on the last one it stops accepting before the
// answer goes out, so that no connection is accepted and then dropped.
func (s *server) count() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served++
	if s.served == s.exitAfter {
		s.stopOnce.Do(func() {
			for _, l := range s.listeners {
				l.Close()
			}
		})
		close(s.done)
	}
}

func (s *server) serveStream(l net.Listener, fd int) {
	defer s.handlers.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			defer c.Close()
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				return
			}
			s.count()
			fmt.Fprintf(c, "pid %d fd %d\n", os.Getpid(), fd)
		}()
	}
}

func (s *server) servePackets(c net.PacketConn, fd int) {
	defer s.handlers.Done()
	buf := make([]byte, 512)
	for {
		_, peer, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo([]byte(fmt.Sprintf("pid %d fd %d\n", os.Getpid(), fd)), peer)
	}
}

// answerConn answers the connection on fd 3 (--accept) with what the
// program got, the fds it inherited included, then exits.
func answerConn() error {
	inherited := inheritedFDs()
	c, err := net.FileConn(os.NewFile(3, "conn"))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c, "pid=%d fds=%s names=%s remote=%s:%s fd3=%s inherited=%v\n", os.Getpid(),
		os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"), os.Getenv("REMOTE_ADDR"), os.Getenv("REMOTE_PORT"), strings.Fields(describeFD(3))[0], inherited)
	return err
}

// answerInetd answers a line on stdin on stdout (--inetd).
func answerInetd() error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return err
	}
	_, listen := os.LookupEnv("LISTEN_FDS")
	_, err = fmt.Printf("inetd got %q, LISTEN_FDS set: %v, REMOTE_ADDR=%s\n", line, listen, os.Getenv("REMOTE_ADDR"))
	return err
}

// awaitSignal says "waiting", then reports the first SIGINT, SIGTERM or
// SIGHUP and exits with status 42.
func awaitSignal() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	fmt.Println("waiting")
	fmt.Printf("got %v\n", <-sigs)
	os.Exit(42)
	return nil
}

// nextRun counts one more run of a helper program in the file that
// stateEnv names and returns its number, from 1, with a channel that gets
// SIGTERM.
func nextRun() (int, <-chan os.Signal, error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	state := os.Getenv(stateEnv)
	b, _ := os.ReadFile(state)
	if err := os.WriteFile(state, append(b, '.'), 0o600); err != nil {
		return 0, nil, err
	}
	return len(b) + 1, sigs, nil
}

// useStore exercises the fd store (--notify --restart --now, one socket
// named web). Each run prints what it got and exits; the fourth waits for
// SIGTERM. The state file counts the runs.
//
// A pipe whose write end is closed reports POLLHUP, so the pipes that must
// stay are stored with FDPOLL=0.
//
//	run 1: stores a pipe holding "kept data" as "kept"; stores a pipe whose
//	       write end is closed as "gone" (dropped: it hung up); sends
//	       another fd without FDSTORE=1 and checks that the activator
//	       closes it.
//	run 2: reads "kept" back on fd 4 and stores it again (a duplicate, not
//	       kept twice); stores a pipe holding "more data" without FDNAME.
//	run 3: reads "stored" on fd 5; removes "kept" with FDSTOREREMOVE=1.
//	run 4: finds only "stored" left.
func useStore() error {
	runs, sigs, err := nextRun()
	if err != nil {
		return err
	}
	fmt.Printf("run %d: LISTEN_FDS=%s LISTEN_FDNAMES=%s\n", runs, os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	switch runs {
	case 1:
		if err := storePipe("kept data", "FDSTORE=1\nFDNAME=kept\nFDPOLL=0"); err != nil {
			return err
		}
		if err := storePipe("", "FDSTORE=1\nFDNAME=gone"); err != nil {
			return err
		}
		return checkUnstoredClosed()
	case 2:
		if err := printFD(4); err != nil {
			return err
		}
		if err := notify("FDSTORE=1\nFDNAME=kept", []int{4}); err != nil {
			return err
		}
		return storePipe("more data", "FDSTORE=1\nFDPOLL=0")
	case 3:
		if err := printFD(5); err != nil {
			return err
		}
		return notify("FDSTOREREMOVE=1\nFDNAME=kept", nil)
	}
	<-sigs
	return nil
}

// storeConn stores a connection (--notify --restart --now, one socket):
//
//	run 1: accepts a connection on fd 3, stores it as "conn" with
//	       FDSTORE=1 and SA_TEST_FDPOLL's line, closes its own copy, says
//	       "stored conn" and waits for SIGTERM.
//	run 2: says what it got; given a second fd, waits until that fd
//	       reports POLLHUP or POLLERR (the peer is gone) and says so; then
//	       waits for SIGTERM.
func storeConn() error {
	runs, sigs, err := nextRun()
	if err != nil {
		return err
	}
	fmt.Printf("run %d: LISTEN_FDS=%s LISTEN_FDNAMES=%s\n", runs, os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	switch runs {
	case 1:
		fd, _, err := unix.Accept(3)
		if err != nil {
			return err
		}
		err = notify("FDSTORE=1\nFDNAME=conn\n"+os.Getenv(fdpollEnv), []int{fd})
		unix.Close(fd)
		if err != nil {
			return err
		}
		fmt.Println("stored conn")
	case 2:
		if n, _ := listenFDs(); n >= 2 {
			hungUp, err := awaitHangUp(4)
			if err != nil {
				return err
			}
			fmt.Printf("fd 4 hung up: %v\n", hungUp)
		}
	}
	<-sigs
	return nil
}

// ownListener opens and stores its own listener (--notify --now
// --restart, no -l):
//
//	run 1: says which LISTEN_* variables it got, listens on 127.0.0.1:0,
//	       stores the listener as "web", says "stored ADDR" and waits for
//	       SIGTERM without accepting.
//	run 2: says what it got and what fd 3 is, answers one connection on
//	       fd 3 with "pid PID", says so and waits for SIGTERM.
func ownListener() error {
	runs, sigs, err := nextRun()
	if err != nil {
		return err
	}
	fmt.Printf("run %d: LISTEN_FDS=%s LISTEN_FDNAMES=%s LISTEN_PID=%s\n", runs, envValue("LISTEN_FDS"), envValue("LISTEN_FDNAMES"), envValue("LISTEN_PID"))
	switch runs {
	case 1:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		rc, err := l.(*net.TCPListener).SyscallConn()
		if err != nil {
			return err
		}
		// Control, not File().Fd(), which would make the socket blocking.
		if cerr := rc.Control(func(fd uintptr) { err = notify("FDSTORE=1\nFDNAME=web", []int{int(fd)}) }); cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
		fmt.Printf("stored %s\n", l.Addr())
	case 2:
		fmt.Printf("fd 3 is %s\n", strings.Join(strings.Fields(describeFD(3))[:2], " "))
		l, err := net.FileListener(os.NewFile(3, "web"))
		if err != nil {
			return err
		}
		defer l.Close()
		l.(*net.TCPListener).SetDeadline(time.Now().Add(timeout))
		c, err := l.Accept()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c, "pid %d\n", os.Getpid())
		c.Close()
		if err != nil {
			return err
		}
		fmt.Println("answered a connection on fd 3")
	}
	<-sigs
	return nil
}

// envValue returns the value of the variable key, "self" for a LISTEN_PID
// that is this process's pid, or "unset".
func envValue(key string) string {
	v, ok := os.LookupEnv(key)
	switch {
	case !ok:
		return "unset"
	case key == "LISTEN_PID" && v == strconv.Itoa(os.Getpid()):
		return "self"
	}
	return v
}

// awaitHangUp waits at most timeout for fd to report POLLHUP or POLLERR
// and reports whether it did.
func awaitHangUp(fd int) (bool, error) {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		k, err := unix.Poll(pfd, int(left/time.Millisecond)+1)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false, err
		case k == 1:
			return pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0, nil
		}
	}
}

// printFD prints what can be read from fd.
func printFD(fd int) error {
	data := make([]byte, 64)
	n, err := unix.Read(fd, data)
	if err != nil {
		return err
	}
	fmt.Printf("fd %d holds %q\n", fd, data[:n])
	return nil
}

// storePipe stores with msg the read end of a pipe that holds data.
func storePipe(data, msg string) error {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	defer unix.Close(p[0])
	_, err := unix.Write(p[1], []byte(data))
	unix.Close(p[1])
	if err != nil {
		return err
	}
	return notify(msg, []int{p[0]})
}

// checkUnstoredClosed sends a pipe's write end with READY=1 but without
// FDSTORE=1 and waits for the read end to see EOF: the activator closed it.
func checkUnstoredClosed() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	err = notify("READY=1", []int{int(w.Fd())})
	w.Close()
	if err != nil {
		return err
	}
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Errorf("read from the pipe whose write end was sent: %d bytes, %v; want EOF", n, err)
	}
	fmt.Println("fd sent without FDSTORE=1 closed")
	return nil
}

// answerInetdListener accepts one connection on stdin, a listening socket
// (--inetd without --accept), and answers it.
func answerInetdListener() error {
	stdin := describeFD(0)
	l, err := net.FileListener(os.Stdin)
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	_, listen := os.LookupEnv("LISTEN_FDS")
	_, err = fmt.Fprintf(c, "stdin is %s, LISTEN_FDS set: %v\n", stdin, listen)
	return err
}

// notify sends msg and fds to NOTIFY_SOCKET.
func notify(msg string, fds []int) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var oob []byte
	if fds != nil {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, []byte(msg), oob, &unix.SockaddrUnix{Name: os.Getenv("NOTIFY_SOCKET")}, 0)
}

// dialUnix connects to the unix socket sock, with reads and writes bounded
// by timeout; the connection is closed when the test ends.
func dialUnix(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(timeout))
	return c
}
