package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the server: with NOTIFY_SERVICE_TEST_CHILD=1 it
// runs main. Go cannot set LISTEN_PID between fork and exec, so the child
// sets it to its own pid when it was passed sockets.
func TestMain(m *testing.M) {
	if os.Getenv("NOTIFY_SERVICE_TEST_CHILD") == "1" {
		if os.Getenv("LISTEN_FDS") != "" {
			os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeManager is the receiving end of NOTIFY_SOCKET, bound as systemd binds
// it.
type fakeManager struct {
	t     *testing.T
	fd    int
	path  string
	pings int // WATCHDOG=1 messages skipped so far
}

type notification struct {
	text string
	fds  []int
}

func newFakeManager(t *testing.T) *fakeManager {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 20}); err != nil {
		t.Fatal(err)
	}
	return &fakeManager{t: t, fd: fd, path: path}
}

func (m *fakeManager) receive() notification {
	m.t.Helper()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8)+unix.CmsgSpace(unix.SizeofUcred))
	n, oobn, _, err := recvmsg(m.fd, buf, oob)
	if err != nil {
		m.t.Fatalf("waiting for a notification: %v", err)
	}
	msg := notification{text: string(buf[:n])}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		m.t.Fatal(err)
	}
	for _, c := range cmsgs {
		if c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_RIGHTS {
			fds, err := unix.ParseUnixRights(&c)
			if err != nil {
				m.t.Fatal(err)
			}
			msg.fds = append(msg.fds, fds...)
		}
	}
	return msg
}

// recvmsg receives one message, again when a signal interrupts the wait
// (the receive timeout makes the kernel return EINTR then).
func recvmsg(fd int, buf, oob []byte) (n, oobn, flags int, err error) {
	for i := 0; i < 1000; i++ {
		n, oobn, flags, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	return n, oobn, flags, err
}

// await receives notifications until one reads want, at most 100 of them,
// and returns the others that are not watchdog pings.
func (m *fakeManager) await(want string) []notification {
	m.t.Helper()
	var others []notification
	for i := 0; i < 100; i++ {
		msg := m.receive()
		switch {
		case msg.text == want:
			return others
		case msg.text == "WATCHDOG=1":
			m.pings++
		default:
			others = append(others, msg)
		}
	}
	m.t.Fatalf("no %q among 100 notifications", want)
	return nil
}

// next receives the next notification that is not a watchdog ping.
func (m *fakeManager) next() notification {
	m.t.Helper()
	for i := 0; i < 100; i++ {
		if msg := m.receive(); msg.text != "WATCHDOG=1" {
			return msg
		}
		m.pings++
	}
	m.t.Fatal("only watchdog pings among 100 notifications")
	return notification{}
}

// start runs the server with the manager's NOTIFY_SOCKET, a 200ms watchdog
// and, if stored is not nil, the stored listener passed as fd 3 named web.
func start(t *testing.T, m *fakeManager, stored *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-name", "web")
	cmd.Env = append(os.Environ(),
		"NOTIFY_SERVICE_TEST_CHILD=1",
		"NOTIFY_SOCKET="+m.path,
		"WATCHDOG_USEC=200000",
	)
	if stored != nil {
		cmd.ExtraFiles = []*os.File{stored}
		cmd.Env = append(cmd.Env, "LISTEN_FDS=1", "LISTEN_FDNAMES=web")
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// stop sends SIGTERM and waits, bounded, for a clean exit after STOPPING=1.
func stop(t *testing.T, m *fakeManager, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	m.await("STOPPING=1")
	if status, want := m.next(), "STATUS=finishing requests in progress"; status.text != want {
		t.Errorf("status:\n-want %q\n+got  %q", want, status.text)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit within 20s of SIGTERM")
	}
}

func get(t *testing.T, c net.Conn) string {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// storedSocket returns the listener the server stored before READY=1, and
// its address. The test's cleanup closes it.
func storedSocket(t *testing.T, before []notification) (*os.File, string) {
	t.Helper()
	if len(before) != 1 || before[0].text != "FDSTORE=1\nFDNAME=web" || len(before[0].fds) != 1 {
		t.Fatalf("before READY=1: %+v, want one FDSTORE=1 with FDNAME=web and one descriptor", before)
	}
	stored := os.NewFile(uintptr(before[0].fds[0]), "web")
	t.Cleanup(func() { stored.Close() })
	sa, err := unix.Getsockname(before[0].fds[0])
	if err != nil {
		t.Fatal(err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		t.Fatalf("stored socket address %#v, want IPv4", sa)
	}
	return stored, net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}

func TestARestartedServerServesOnTheStoredSocket(t *testing.T) {
	m := newFakeManager(t)

	first := start(t, m, nil)
	stored, addr := storedSocket(t, m.await("READY=1"))
	status := m.next()
	if want := "STATUS=serving on " + addr; status.text != want {
		t.Errorf("status:\n-want %q\n+got  %q", want, status.text)
	}
	if got, want := get(t, dial(t, addr)), fmt.Sprintf("hello from pid %d\n", first.Process.Pid); got != want {
		t.Errorf("first server answered %q, want %q", got, want)
	}
	stop(t, m, first)

	// No process serves now, but the stored socket still listens: the
	// connection waits in its backlog.
	waiting := dial(t, addr)

	second := start(t, m, stored)
	if before := m.await("READY=1"); len(before) != 0 {
		t.Errorf("before READY=1: %+v, want nothing: the passed socket is already stored", before)
	}
	if got, want := get(t, waiting), fmt.Sprintf("hello from pid %d\n", second.Process.Pid); got != want {
		t.Errorf("the connection made between the runs got %q, want %q", got, want)
	}
	if status, want := m.next(), "STATUS=serving on "+addr; status.text != want {
		t.Errorf("status:\n-want %q\n+got  %q", want, status.text)
	}
	stop(t, m, second)
	if m.pings == 0 {
		t.Error("no WATCHDOG=1 ping arrived although WATCHDOG_USEC was set")
	}
}

const (
	// perServer: each server answers this many requests before the test
	// restarts it, so that requests are under way at every restart.
	perServer = 100
	restarts  = 3
)

// loadConfig stops the load after 5000 requests or 12s, whichever comes
// first, even if the test is not done with it.
var loadConfig = restarttest.LoadConfig{Workers: 6, MaxRequests: 5000, Duration: 12 * time.Second, Timeout: 20 * time.Second}

// A restart stops the server with SIGTERM and starts the next one on the
// stored socket. Clients that connect in between wait in the socket's
// backlog; the ones the old server accepted must get their answer from it.
func TestRestartsUnderLoadLoseNoRequest(t *testing.T) {
	m := newFakeManager(t)
	server := start(t, m, nil)
	stored, addr := storedSocket(t, m.await("READY=1"))

	client := restarttest.Client(20 * time.Second)
	url := "http://" + addr + "/"
	l := restarttest.StartLoad(t, loadConfig, func(int, int) (int, error) { return hello(client, url) })
	pids := []int{server.Process.Pid}
	for r := 0; ; r++ {
		pid := server.Process.Pid
		l.WaitFor(t, fmt.Sprintf("%d requests answered by pid %d", perServer, pid), func() bool {
			return l.AnsweredBy(pid) >= perServer
		})
		if r == restarts {
			break
		}
		stop(t, m, server)
		server = start(t, m, stored)
		m.await("READY=1")
		pids = append(pids, server.Process.Pid)
	}
	l.Halt()
	stop(t, m, server)

	t.Logf("%d requests, %d failed, %d restarts, pids %v answered %v", l.Requests(), l.Failed(), restarts, pids, l.ByPID())
	if err := l.Err(); err != nil {
		t.Error(err)
	}
	sort.Ints(pids)
	if answering := l.PIDs(); !slices.Equal(answering, pids) {
		t.Errorf("pids that answered: %v; want every server started: %v", answering, pids)
	}
}

// hello requests url and returns the pid that answered.
func hello(client *http.Client, url string) (int, error) {
	body, err := restarttest.Get(client, url)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscanf(string(body), "hello from pid %d\n", &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("GET %s: %q, want hello from a pid", url, body)
	}
	return pid, nil
}
