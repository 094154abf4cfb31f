package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-activation/activation/activationtest"
	"github.com/go-activation/activation/internal/storedlisteners"
)

// manager is a fake service manager: a datagram socket bound with
// SO_PASSCRED, as systemd binds its notification socket, named by
// NOTIFY_SOCKET for the rest of the test.
type manager struct {
	t    *testing.T
	fd   int
	name string
}

// message is one received notification.
type message struct {
	text  string
	fds   []int // received descriptors, closed when the test ends
	creds *unix.Ucred
}

func newManager(t *testing.T) *manager {
	t.Helper()
	return bindManager(t, activationtest.SocketPath(t, "notify"))
}

func newAbstractManager(t *testing.T) *manager {
	t.Helper()
	return bindManager(t, fmt.Sprintf("@go-activation-notify-test/%d/%d", os.Getpid(), time.Now().UnixNano()))
}

func bindManager(t *testing.T, name string) *manager {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		t.Fatalf("binding %q: %v", name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	// Every receive is bounded: a missing message fails the test.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", name)
	return &manager{t: t, fd: fd, name: name}
}

// receive waits for the next message. It is safe to call from any goroutine
// and reports failure through its error.
func (m *manager) receive() (message, error) {
	buf := make([]byte, MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(4*MaxFiles)+unix.CmsgSpace(unix.SizeofUcred))
	var (
		n, oobn, flags int
		err            error
	)
	for i := 0; i < 1000; i++ { // a signal interrupts a wait with a timeout
		n, oobn, flags, _, err = unix.Recvmsg(m.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return message{}, fmt.Errorf("receiving a notification: %w", err)
	}
	msg := message{text: string(buf[:n])}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return message{}, err
	}
	for _, c := range cmsgs {
		switch {
		case c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_RIGHTS:
			fds, err := unix.ParseUnixRights(&c)
			if err != nil {
				return message{}, err
			}
			msg.fds = append(msg.fds, fds...)
			m.t.Cleanup(func() {
				for _, fd := range fds {
					unix.Close(fd)
				}
			})
		case c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_CREDENTIALS:
			if msg.creds, err = unix.ParseUnixCredentials(&c); err != nil {
				return message{}, err
			}
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return message{}, fmt.Errorf("message truncated: flags %#x", flags)
	}
	return msg, nil
}

func (m *manager) mustReceive() message {
	m.t.Helper()
	msg, err := m.receive()
	if err != nil {
		m.t.Fatal(err)
	}
	return msg
}

// expectNothing checks that no message is waiting. Datagrams on a Unix
// socket are queued before sendmsg returns, so nothing waiting means nothing
// was sent.
func (m *manager) expectNothing() {
	m.t.Helper()
	buf := make([]byte, MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(4*MaxFiles))
	n, _, _, _, err := unix.Recvmsg(m.fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != unix.EAGAIN {
		m.t.Errorf("a message was sent: %q (error %v)", buf[:max(n, 0)], err)
	}
}

func wantText(t *testing.T, msg message, want string) {
	t.Helper()
	if msg.text != want {
		t.Errorf("message:\n-want %q\n+got  %q", want, msg.text)
	}
}

func wantSent(t *testing.T, sent bool, err error) {
	t.Helper()
	if !sent || err != nil {
		t.Fatalf("got %v, %v; want true, <nil>", sent, err)
	}
}

func TestTypedCallsSendTheirStatesByteForByte(t *testing.T) {
	m := newManager(t)
	tests := []struct {
		name string
		do   func() (bool, error)
		want string
	}{
		{"Ready sends READY=1", Ready, "READY=1"},
		{"Stopping sends STOPPING=1", Stopping, "STOPPING=1"},
		{"Status sends STATUS= and the text", func() (bool, error) { return Status("serving 3 clients: ok") }, "STATUS=serving 3 clients: ok"},
		{"Status sends an empty text", func() (bool, error) { return Status("") }, "STATUS="},
		{"Errno sends ERRNO= and the number", func() (bool, error) { return Errno(98) }, "ERRNO=98"},
		{"ExtendTimeout sends microseconds", func() (bool, error) { return ExtendTimeout(1500 * time.Millisecond) }, "EXTEND_TIMEOUT_USEC=1500000"},
		{"ExtendTimeout rounds down to microseconds", func() (bool, error) { return ExtendTimeout(1999 * time.Nanosecond) }, "EXTEND_TIMEOUT_USEC=1"},
		{"Watchdog sends WATCHDOG=1", Watchdog, "WATCHDOG=1"},
		{"WatchdogTrigger sends WATCHDOG=trigger", WatchdogTrigger, "WATCHDOG=trigger"},
		{"MainPID sends MAINPID= and the pid", func() (bool, error) { return MainPID(4242) }, "MAINPID=4242"},
		{"Send sends the text as is", func() (bool, error) { return Send("READY=1\nSTATUS=a b\n\nCUSTOM=\xff") }, "READY=1\nSTATUS=a b\n\nCUSTOM=\xff"},
		{"Send sends an empty text", func() (bool, error) { return Send("") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, err := tt.do()
			wantSent(t, sent, err)
			msg := m.mustReceive()
			wantText(t, msg, tt.want)
			if len(msg.fds) != 0 {
				t.Errorf("received %d descriptors, want none", len(msg.fds))
			}
		})
	}
}

func TestReloadingSendsTheMonotonicClock(t *testing.T) {
	m := newManager(t)
	before, err := monotonicMicroseconds()
	if err != nil {
		t.Fatal(err)
	}
	sent, err := Reloading()
	wantSent(t, sent, err)
	after, err := monotonicMicroseconds()
	if err != nil {
		t.Fatal(err)
	}
	msg := m.mustReceive()
	usecText, ok := strings.CutPrefix(msg.text, "RELOADING=1\nMONOTONIC_USEC=")
	if !ok {
		t.Fatalf("message %q does not start with RELOADING=1\\nMONOTONIC_USEC=", msg.text)
	}
	usec, err := strconv.ParseUint(usecText, 10, 64)
	if err != nil || usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%s, want a number from %d to %d (%v)", usecText, before, after, err)
	}
}

func TestMessagesCarryOurCredentials(t *testing.T) {
	m := newManager(t)
	sent, err := Ready()
	wantSent(t, sent, err)
	msg := m.mustReceive()
	want := unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if msg.creds == nil || *msg.creds != want {
		t.Errorf("credentials:\n-want %+v\n+got  %+v", want, msg.creds)
	}
}

func TestAnAbstractSocketReceivesMessages(t *testing.T) {
	m := newAbstractManager(t)
	sent, err := Status("abstract")
	wantSent(t, sent, err)
	wantText(t, m.mustReceive(), "STATUS=abstract")
}

func TestAMissingSocketIsAnErrorNamingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing")
	t.Setenv("NOTIFY_SOCKET", path)
	sent, err := Ready()
	if sent || !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), strconv.Quote(path)) {
		t.Errorf("Ready() = %v, %v; want false and ENOENT naming %q", sent, err, path)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	m := newManager(t)
	t.Run("4096 bytes are sent whole", func(t *testing.T) {
		text := "STATUS=" + strings.Repeat("x", MaxMessageSize-len("STATUS="))
		sent, err := Send(text)
		wantSent(t, sent, err)
		wantText(t, m.mustReceive(), text)
	})
	t.Run("4097 bytes are refused before anything is sent", func(t *testing.T) {
		sent, err := Send(strings.Repeat("x", MaxMessageSize+1))
		if sent || err == nil {
			t.Errorf("Send(4097 bytes) = %v, %v; want false and an error", sent, err)
		}
		m.expectNothing()
	})
}

func TestFileLimit(t *testing.T) {
	m := newManager(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	files := make([]*os.File, MaxFiles+1)
	for i := range files {
		files[i] = r
	}
	t.Run("253 files go in one message", func(t *testing.T) {
		sent, err := SendWithFiles("FDSTORE=1", files[:MaxFiles]...)
		wantSent(t, sent, err)
		msg := m.mustReceive()
		wantText(t, msg, "FDSTORE=1")
		if len(msg.fds) != MaxFiles {
			t.Fatalf("received %d descriptors, want %d", len(msg.fds), MaxFiles)
		}
		for _, fd := range msg.fds {
			wantSameFile(t, fd, r)
		}
	})
	t.Run("254 files are refused before anything is sent", func(t *testing.T) {
		sent, err := SendWithFiles("FDSTORE=1", files...)
		if sent || err == nil {
			t.Errorf("SendWithFiles(254 files) = %v, %v; want false and an error", sent, err)
		}
		m.expectNothing()
	})
	t.Run("a closed file is refused before anything is sent", func(t *testing.T) {
		closed, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		sent, err := SendWithFiles("FDSTORE=1", r, closed)
		if sent || !errors.Is(err, os.ErrClosed) {
			t.Errorf("SendWithFiles(closed file) = %v, %v; want false and os.ErrClosed", sent, err)
		}
		m.expectNothing()
	})
}

// wantSameFile checks that fd and f refer to the same open file.
func wantSameFile(t *testing.T, fd int, f *os.File) {
	t.Helper()
	var got, want unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		t.Fatal(err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(ffd uintptr) { serr = unix.Fstat(int(ffd), &want) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		t.Errorf("received descriptor is device %d inode %d, want device %d inode %d", got.Dev, got.Ino, want.Dev, want.Ino)
	}
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// acceptOne dials l's address and accepts the connection on accept, within
// a bounded time.
func acceptOne(t *testing.T, addr net.Addr, accept func() (net.Conn, error)) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	s.Close()
}

func fdCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestStoreListenerSendsTheListeningSocketAndLeavesItWorking(t *testing.T) {
	m := newManager(t)
	l := listen(t)
	before := fdCount(t)
	sent, err := StoreListener("web", l)
	wantSent(t, sent, err)
	msg := m.mustReceive()
	if after := fdCount(t); after != before+1 { // +1: the received copy
		t.Errorf("%d descriptors open after StoreListener, want %d: the duplicate leaked", after, before+1)
	}
	wantText(t, msg, "FDSTORE=1\nFDNAME=web")
	if len(msg.fds) != 1 {
		t.Fatalf("received %d descriptors, want 1", len(msg.fds))
	}
	lf, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	wantSameFile(t, msg.fds[0], lf)

	t.Run("the stored copy accepts connections", func(t *testing.T) {
		dup, err := unix.FcntlInt(uintptr(msg.fds[0]), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		dupFile := os.NewFile(uintptr(dup), "stored")
		stored, err := net.FileListener(dupFile)
		dupFile.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer stored.Close()
		if err := stored.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		acceptOne(t, l.Addr(), stored.Accept)
	})
	t.Run("the caller's listener stays non-blocking and accepts", func(t *testing.T) {
		flags, err := unix.FcntlInt(uintptr(msg.fds[0]), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.O_NONBLOCK == 0 {
			t.Error("the socket lost O_NONBLOCK, which the caller's listener shares")
		}
		if err := l.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		acceptOne(t, l.Addr(), l.Accept)
	})
}

// Package graceful asks whether a listener outlives the process: one stored
// with StoreListener does, until Remove drops its name.
func TestStoreListenerRecordsTheListenerUntilRemove(t *testing.T) {
	m := newManager(t)
	l := listen(t)
	t.Cleanup(func() { storedlisteners.Remove("recorded") })
	if storedlisteners.Has(l.Addr()) {
		t.Fatalf("%v recorded before it was stored", l.Addr())
	}
	sent, err := StoreListener("recorded", l)
	wantSent(t, sent, err)
	m.mustReceive()
	if !storedlisteners.Has(l.Addr()) {
		t.Errorf("%v not recorded after StoreListener", l.Addr())
	}
	sent, err = Remove("recorded")
	wantSent(t, sent, err)
	m.mustReceive()
	if storedlisteners.Has(l.Addr()) {
		t.Errorf("%v still recorded after Remove", l.Addr())
	}
}

func TestStoreConnSendsTheConnection(t *testing.T) {
	m := newManager(t)
	l := listen(t)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := l.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	sent, err := StoreConn("conn-1", server)
	wantSent(t, sent, err)
	msg := m.mustReceive()
	wantText(t, msg, "FDSTORE=1\nFDNAME=conn-1")
	if len(msg.fds) != 1 {
		t.Fatalf("received %d descriptors, want 1", len(msg.fds))
	}
	// What the stored copy writes reaches the client: it is the same
	// connection.
	if _, err := unix.Write(msg.fds[0], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := client.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello" {
		t.Errorf("client read %q, %v; want \"hello\"", got, err)
	}
	// The caller's connection still works.
	if _, err := server.Write([]byte("!")); err != nil {
		t.Errorf("writing on the caller's connection after StoreConn: %v", err)
	}
}

func TestStoreAndRemoveMessages(t *testing.T) {
	m := newManager(t)
	f := openDevNull(t)
	tests := []struct {
		name    string
		do      func() (bool, error)
		want    string
		wantFds int
	}{
		{"Store sends FDSTORE=1 and FDNAME=", func() (bool, error) { return Store("state", f) }, "FDSTORE=1\nFDNAME=state", 1},
		{"Store sends every file in one message", func() (bool, error) { return Store("pair", f, f) }, "FDSTORE=1\nFDNAME=pair", 2},
		{"Store accepts the empty name", func() (bool, error) { return Store("", f) }, "FDSTORE=1\nFDNAME=", 1},
		{"StoreNoPoll adds FDPOLL=0", func() (bool, error) { return StoreNoPoll("state", f) }, "FDSTORE=1\nFDPOLL=0\nFDNAME=state", 1},
		{"StoreFile stores one file", func() (bool, error) { return StoreFile("file", f) }, "FDSTORE=1\nFDNAME=file", 1},
		{"Remove sends FDSTOREREMOVE=1 and no file", func() (bool, error) { return Remove("state") }, "FDSTOREREMOVE=1\nFDNAME=state", 0},
		{"SendWithFiles sends the text with the files", func() (bool, error) { return SendWithFiles("FDSTORE=1", f) }, "FDSTORE=1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, err := tt.do()
			wantSent(t, sent, err)
			msg := m.mustReceive()
			wantText(t, msg, tt.want)
			if len(msg.fds) != tt.wantFds {
				t.Fatalf("received %d descriptors, want %d", len(msg.fds), tt.wantFds)
			}
			for _, fd := range msg.fds {
				wantSameFile(t, fd, f)
			}
		})
	}
}

func TestBarrier(t *testing.T) {
	t.Run("returns once the manager closes the pipe", func(t *testing.T) {
		m := newManager(t)
		before := fdCount(t)
		done := make(chan error, 1)
		go func() {
			msg, err := m.receive()
			switch {
			case err != nil:
			case msg.text != "BARRIER=1" || len(msg.fds) != 1:
				err = fmt.Errorf("barrier message %q with %d descriptors, want \"BARRIER=1\" with 1", msg.text, len(msg.fds))
			default:
				err = unix.Close(msg.fds[0])
			}
			done <- err
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sent, err := Barrier(ctx)
		wantSent(t, sent, err)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if after := fdCount(t); after != before {
			t.Errorf("%d descriptors open after Barrier, want %d: the pipe leaked", after, before)
		}
	})
	t.Run("gives up when the context ends while the manager keeps the pipe", func(t *testing.T) {
		m := newManager(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		sent, err := Barrier(ctx)
		if !sent || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Barrier() = %v, %v; want true and context.DeadlineExceeded", sent, err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("Barrier took %v to give up after 50ms", elapsed)
		}
		msg := m.mustReceive() // received late, and kept open until the test ends
		wantText(t, msg, "BARRIER=1")
	})
	t.Run("sends nothing when the context has already ended", func(t *testing.T) {
		m := newManager(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		sent, err := Barrier(ctx)
		if sent || !errors.Is(err, context.Canceled) {
			t.Errorf("Barrier() = %v, %v; want false and context.Canceled", sent, err)
		}
		m.expectNothing()
	})
}

func TestWatchdogLoop(t *testing.T) {
	t.Run("pings every half interval until the context ends", func(t *testing.T) {
		m := newManager(t)
		t.Setenv("WATCHDOG_USEC", "20000") // 20ms: a ping every 10ms
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- WatchdogLoop(ctx) }()
		const pings = 5
		for i := 0; i < pings; i++ {
			msg, err := m.receive() // bounded by the socket's receive timeout
			if err != nil {
				t.Fatalf("ping %d: %v", i+1, err)
			}
			wantText(t, msg, "WATCHDOG=1")
		}
		// Tickers never fire early: five pings, the first at once, take at
		// least four half intervals.
		if elapsed := time.Since(start); elapsed < (pings-1)*10*time.Millisecond {
			t.Errorf("%d pings in %v, faster than one per 10ms", pings, elapsed)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("WatchdogLoop returned %v after the context ended, want <nil>", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("WatchdogLoop did not return within 10s of the context ending")
		}
	})
	notEnabled := []struct {
		name string
		env  map[string]string
	}{
		{"returns at once when WATCHDOG_USEC is unset", map[string]string{}},
		{"returns at once when WATCHDOG_PID names another process", map[string]string{"WATCHDOG_USEC": "20000", "WATCHDOG_PID": strconv.Itoa(os.Getpid() + 1)}},
	}
	for _, tt := range notEnabled {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t)
			unsetenv(t, "WATCHDOG_USEC")
			unsetenv(t, "WATCHDOG_PID")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			done := make(chan error, 1)
			go func() { done <- WatchdogLoop(context.Background()) }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("WatchdogLoop() = %v, want <nil>", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("WatchdogLoop did not return at once")
			}
			m.expectNothing()
		})
	}
	t.Run("returns the error of a malformed WATCHDOG_USEC", func(t *testing.T) {
		newManager(t)
		t.Setenv("WATCHDOG_USEC", "soon")
		unsetenv(t, "WATCHDOG_PID")
		err := WatchdogLoop(context.Background())
		if want := `notify: invalid WATCHDOG_USEC "soon": not a number`; err == nil || err.Error() != want {
			t.Errorf("WatchdogLoop() = %v\n-want %s", err, want)
		}
	})
}

// streamManager listens on a connected socket type and serves one
// notification: it reads until the sender shuts down writing, optionally
// writes reply, and closes.
func streamManager(t *testing.T, typ int, reply string) (target, <-chan message, <-chan error) {
	t.Helper()
	path := activationtest.SocketPath(t, "notify")
	lfd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(lfd) })
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan message, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10}); err != nil {
				return err
			}
			m := &manager{t: t, fd: fd}
			var all message
			for i := 0; i < 100; i++ {
				msg, err := m.receive()
				if err != nil {
					return err
				}
				if msg.text == "" && msg.fds == nil {
					break // end of file
				}
				all.text += msg.text
				all.fds = append(all.fds, msg.fds...)
			}
			got <- all
			if reply != "" {
				if _, err := unix.Write(fd, []byte(reply)); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	return target{family: unix.AF_UNIX, sa: &unix.SockaddrUnix{Name: path}, types: []int{typ}, awaitClose: true}, got, errc
}

func TestConnectedSocketsSendTheMessageThenWaitForTheManagerToClose(t *testing.T) {
	f := openDevNull(t)
	for _, typ := range []struct {
		name string
		typ  int
	}{{"stream", unix.SOCK_STREAM}, {"seqpacket", unix.SOCK_SEQPACKET}} {
		t.Run("a "+typ.name+" socket delivers the text and the files", func(t *testing.T) {
			tg, got, errc := streamManager(t, typ.typ, "")
			err := withFds([]*os.File{f}, func(fds []int) error { return deliver(tg, []byte("READY=1\nSTATUS=up"), fds) })
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			msg := <-got
			wantText(t, msg, "READY=1\nSTATUS=up")
			if len(msg.fds) != 1 {
				t.Fatalf("received %d descriptors, want 1", len(msg.fds))
			}
			wantSameFile(t, msg.fds[0], f)
		})
		t.Run("a "+typ.name+" manager that answers is an error", func(t *testing.T) {
			tg, _, errc := streamManager(t, typ.typ, "?")
			err := deliver(tg, []byte("READY=1"), nil)
			if err == nil || !strings.Contains(err.Error(), "sent data") {
				t.Errorf("deliver() = %v, want an error about data from the manager", err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenSocketFallsBackOnlyForUnsupportedTypes(t *testing.T) {
	t.Run("an unsupported type gives way to the next", func(t *testing.T) {
		fd, typ, err := openSocket(unix.AF_UNIX, []int{unix.SOCK_RDM, unix.SOCK_SEQPACKET})
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		if typ != unix.SOCK_SEQPACKET {
			t.Errorf("opened type %d, want SOCK_SEQPACKET (%d)", typ, unix.SOCK_SEQPACKET)
		}
	})
	t.Run("the last type's error is returned", func(t *testing.T) {
		_, _, err := openSocket(unix.AF_UNIX, []int{unix.SOCK_RDM})
		if !errors.Is(err, unix.ESOCKTNOSUPPORT) {
			t.Errorf("openSocket() error = %v, want ESOCKTNOSUPPORT", err)
		}
	})
}

func TestVsockAddressesResolveAsSystemdUsesThem(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []int
	}{
		{"vsock: tries datagrams, then sequential packets, then a stream", "vsock:2:9", []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET, unix.SOCK_STREAM}},
		{"vsock-dgram: uses datagrams only", "vsock-dgram:2:9", []int{unix.SOCK_DGRAM}},
		{"vsock-seqpacket: uses sequential packets only", "vsock-seqpacket:2:9", []int{unix.SOCK_SEQPACKET}},
		{"vsock-stream: uses a stream only", "vsock-stream:2:9", []int{unix.SOCK_STREAM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseAddress(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := resolve(a)
			if err != nil {
				t.Fatal(err)
			}
			sa, ok := tg.sa.(*unix.SockaddrVM)
			if tg.family != unix.AF_VSOCK || !ok || sa.CID != 2 || sa.Port != 9 || !tg.privilegedPort || !tg.awaitClose {
				t.Errorf("resolve(%q) = %+v, want AF_VSOCK CID 2 port 9 with a privileged port and a wait for close", tt.value, tg)
			}
			if fmt.Sprint(tg.types) != fmt.Sprint(tt.want) {
				t.Errorf("socket types:\n-want %v\n+got  %v", tt.want, tg.types)
			}
		})
	}
}

// A closed file is an argument error, as a nil one is: refused whether or
// not NOTIFY_SOCKET is set.
func TestAClosedFileIsRefusedWithoutNOTIFY_SOCKET(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, do := range map[string]func() (bool, error){
		"SendWithFiles": func() (bool, error) { return SendWithFiles("FDSTORE=1", f) },
		"Store":         func() (bool, error) { return Store("state", f) },
	} {
		if sent, err := do(); sent || !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s(closed file) = %v, %v; want false and os.ErrClosed", name, sent, err)
		}
	}
}
