//go:build unix

package activation_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

func TestEveryKindOfFDGoesToTheCallForIt(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	web6, _ := tcpListener(t, "tcp6", "[::1]:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", activationtest.SocketPath(t, "sock"))
	gram := unixgramConn(t, activationtest.SocketPath(t, "gram"))
	packet := unixListener(t, "unixpacket", activationtest.SocketPath(t, "packet"))
	abstract := unixListener(t, "unix", fmt.Sprintf("@go-activation-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	conn, client := tcpConnPair(t)
	pipe := pipeReader(t)
	state := regularFile(t)
	all := []passed{web, web6, dns, sock, gram, packet, abstract, conn, pipe, state}
	names := []string{"web", "web6", "dns", "sock", "gram", "packet", "abstract", "conn", "pipe", "state"}

	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(all...),
		env:      append(activated(len(all), names...), "ACTIVATION_TEST_CALLS=Listeners,PacketConns,Conns,Files,Listeners,Files"),
	})

	diff(t, "calls", []callResult{
		{Call: "Listeners", Items: []string{web.desc, web6.desc, sock.desc, packet.desc, abstract.desc}},
		{Call: "PacketConns", Items: []string{dns.desc, gram.desc}},
		{Call: "Conns", Items: []string{conn.desc}},
		{Call: "Files", Items: []string{"*os.File pipe mode 10000", "*os.File state mode 100000"}},
		{Call: "Listeners"},
		{Call: "Files"},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	diff(t, "variables left set", []string(nil), r.EnvLeft)
	diff(t, "fds left without FD_CLOEXEC", []int(nil), r.NotCloexec)
	if r.FDsHeld != r.FDsBefore {
		t.Errorf("open fds: %d before the calls, %d while holding every value; want one fd per inherited fd", r.FDsBefore, r.FDsHeld)
	}
	if r.FDsAfter != r.FDsBefore-len(all) {
		t.Errorf("open fds after closing every value: %d, want %d", r.FDsAfter, r.FDsBefore-len(all))
	}

	addr := func(d string) string { return d[strings.LastIndexByte(d, ' ')+1:] }
	diff(t, "Inherited", []string{
		fmt.Sprintf(`fd 3 "web": tcp listener on %s, claimed`, addr(web.desc)),
		fmt.Sprintf(`fd 4 "web6": tcp6 listener on %s, claimed`, addr(web6.desc)),
		fmt.Sprintf(`fd 5 "dns": udp socket on %s, claimed`, addr(dns.desc)),
		fmt.Sprintf(`fd 6 "sock": unix listener on %s, claimed`, addr(sock.desc)),
		fmt.Sprintf(`fd 7 "gram": unixgram socket on %s, claimed`, addr(gram.desc)),
		fmt.Sprintf(`fd 8 "packet": unixpacket listener on %s, claimed`, addr(packet.desc)),
		fmt.Sprintf(`fd 9 "abstract": unix listener on %s, claimed`, addr(abstract.desc)),
		fmt.Sprintf(`fd 10 "conn": tcp connection on %s from %s, claimed`, addr(conn.desc), client.LocalAddr()),
		`fd 11 "pipe": fifo, claimed`,
		`fd 12 "state": regular file, claimed`,
	}, r.Inherited)

	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("hello from the child"))
	_, err := io.ReadFull(client, got)
	if string(got) != "hello from the child" || err != nil {
		t.Errorf("the connection passed to the child: read %q, %v; want %q", got, err, "hello from the child")
	}
	if _, err := os.Stat(addr(sock.desc)); err != nil {
		t.Errorf("closing the inherited unix listener removed its socket file: %v", err)
	}
}

func TestInheritedDescribesWithoutClaiming(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	packet := unixListener(t, "unixpacket", activationtest.SocketPath(t, "packet"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web, dns, packet),
		env:      append(activated(3), "ACTIVATION_TEST_CALLS=PacketConns"),
	})
	addr := func(d string) string { return d[strings.LastIndexByte(d, ' ')+1:] }
	diff(t, "Inherited", []string{
		fmt.Sprintf(`fd 3 "unknown": tcp listener on %s`, addr(web.desc)),
		fmt.Sprintf(`fd 4 "unknown": udp socket on %s, claimed`, addr(dns.desc)),
		fmt.Sprintf(`fd 5 "unknown": unixpacket listener on %s`, addr(packet.desc)),
	}, r.Inherited)
	if r.FDsAfter != r.FDsBefore-1 {
		t.Errorf("open fds: %d before, %d after closing the one value; the unclaimed fds must stay open", r.FDsBefore, r.FDsAfter)
	}
}

func TestNamedCallsGroupByName(t *testing.T) {
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	c, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	d := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(a, b, c, d),
		env:      append(activated(4, "web", "admin", "web", "dns"), "ACTIVATION_TEST_CALLS=ListenersWithNames,PacketConnsWithNames,ListenersWithNames"),
	})
	diff(t, "calls", []callResult{
		{Call: "ListenersWithNames", Items: []string{"admin=" + b.desc, "web=" + a.desc, "web=" + c.desc}},
		{Call: "PacketConnsWithNames", Items: []string{"dns=" + d.desc}},
		{Call: "ListenersWithNames"},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
}

func TestConnsNamedTakesOnlyConnectionsOfThatName(t *testing.T) {
	kept0, client0 := tcpConnPair(t)
	other, client1 := tcpConnPair(t)
	kept1, client2 := tcpConnPair(t)
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(kept0, other, kept1, web),
		env:      append(activated(4, "kept", "other", "kept", "kept"), "ACTIVATION_TEST_CALLS=ConnsNamed kept,ConnsNamed kept,Conns,Listeners"),
	})
	diff(t, "calls", []callResult{
		{Call: "ConnsNamed kept", Items: []string{kept0.desc, kept1.desc}},
		{Call: "ConnsNamed kept"},
		{Call: "Conns", Items: []string{other.desc}},
		{Call: "Listeners", Items: []string{web.desc}},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	for i, c := range []net.Conn{client0, client1, client2} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len("hello from the child"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello from the child" {
			t.Errorf("connection %d: read %q, %v", i, got, err)
		}
	}
}

func TestTLSListenersRefusesANilConfigAndClaimsNothing(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web),
		env:      append(activated(1), "ACTIVATION_TEST_CALLS=TLSListeners,Listeners"),
	})
	diff(t, "calls", []callResult{
		{Call: "TLSListeners", Err: "activation: TLSListeners needs a tls.Config, got nil"},
		{Call: "Listeners", Items: []string{web.desc}},
	}, r.Calls)
}

func TestEachFDIsHandedOutOnceAcrossGoroutines(t *testing.T) {
	var all []passed
	var names []string
	for i := 0; i < 6; i++ {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		all = append(all, p)
		names = append(names, "race")
	}
	for i := 0; i < 3; i++ {
		all = append(all, udpConn(t, "udp4", "127.0.0.1:0"), pipeReader(t))
		names = append(names, "dns", "pipe")
	}
	var want []uint64
	for _, p := range all {
		var st unix.Stat_t
		if err := unix.Fstat(int(p.file.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		want = append(want, st.Ino)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	for round := 0; round < 5; round++ {
		r := run(t, childProc{scenario: "race", files: filesOf(all...), env: activated(len(all), names...)})
		diff(t, fmt.Sprintf("round %d: errors", round), []string(nil), r.Serve)
		diff(t, fmt.Sprintf("round %d: inodes handed out", round), want, r.Inodes)
	}
}

func TestHostileEnvironmentsFailFastAndTouchNothing(t *testing.T) {
	type want struct {
		err        string // a substring of the error of both calls; "" for none
		openAfter  []int
		cloexecOn3 bool
	}
	tests := []struct {
		name  string
		files int // how many fds to pass (pipes)
		env   []string
		want  want
	}{
		{"two billion fds claimed with one passed stops at the first missing fd", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=2000000000"},
			want{err: `LISTEN_FDS=2000000000 but fd 4 is not open`, openAfter: []int{3}, cloexecOn3: true}},
		{"the largest LISTEN_FDS with one fd passed stops at the first missing fd", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=2147483644"},
			want{err: `but fd 4 is not open`, openAfter: []int{3}, cloexecOn3: true}},
		{"a LISTEN_FDS past INT_MAX-3 is refused without touching fds", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=2147483645"},
			want{err: `activation: LISTEN_FDS="2147483645": not between 1 and 2147483644`, openAfter: []int{3}}},
		{"a negative LISTEN_FDS is refused", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=-1"},
			want{err: `activation: LISTEN_FDS="-1": not between 1 and 2147483644`, openAfter: []int{3}}},
		{"a garbled LISTEN_PID is refused", 1,
			[]string{"LISTEN_PID=12abc", "LISTEN_FDS=1"},
			want{err: `activation: LISTEN_PID="12abc": not a number`, openAfter: []int{3}}},
		{"a lone trailing backslash in the names is refused", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=1", `LISTEN_FDNAMES=web\`},
			want{err: `activation: LISTEN_FDNAMES="web\\": ends in a lone backslash`, openAfter: []int{3}}},
		{"fewer names than fds is refused after marking the fds", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b"},
			want{err: `activation: LISTEN_FDNAMES="a:b": names 2 fds but LISTEN_FDS is 1`, openAfter: []int{3}, cloexecOn3: true}},
		{"variables for another process leave the fds alone", 1,
			[]string{"LISTEN_PID=1", "LISTEN_FDS=1"},
			want{openAfter: []int{3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []passed
			for i := 0; i < tt.files; i++ {
				files = append(files, pipeReader(t))
			}
			r := runHostile(t, filesOf(files...), tt.env)
			for _, c := range r.Calls {
				if tt.want.err == "" && c.Err != "" || !strings.Contains(c.Err, tt.want.err) {
					t.Errorf("%s: error %q, want one containing %q", c.Call, c.Err, tt.want.err)
				}
				if len(c.Items) != 0 {
					t.Errorf("%s handed out %q", c.Call, c.Items)
				}
			}
			if r.Calls[0].Err != r.Calls[1].Err {
				t.Errorf("the second call said %q, the first %q; want the same", r.Calls[1].Err, r.Calls[0].Err)
			}
			diff(t, "variables left set", []string(nil), r.EnvLeft)
			for _, fd := range append(r.OpenBefore, tt.want.openAfter...) {
				if !contains(r.OpenAfter, fd) {
					t.Errorf("fd %d was closed: open before %v, after %v", fd, r.OpenBefore, r.OpenAfter)
				}
			}
			if got := !contains(r.NotCloexec, 3); got != tt.want.cloexecOn3 {
				t.Errorf("FD_CLOEXEC on fd 3 = %v, want %v", got, tt.want.cloexecOn3)
			}
			if r.Elapsed > 5*time.Second {
				t.Errorf("the call took %v", r.Elapsed)
			}
			if r.Allocated > 1<<20 {
				t.Errorf("the call allocated %d bytes, want under 1 MiB", r.Allocated)
			}
		})
	}
}

// The Go runtime opens files of its own before main (cgroup files since Go
// 1.25), close-on-exec, and they take the lowest free fds. A LISTEN_FDS
// that claims more fds than were passed must not take them, nor close them;
// nor an fd that other code marked close-on-exec before the first call.
func TestCloseOnExecFDsAreNotTaken(t *testing.T) {
	const notTaken = "is close-on-exec, which no fd passed through exec is: this process opened it, or other code marked it, so it is not taken: fcntl: bad file descriptor"
	t.Run("an fd the process opened itself", func(t *testing.T) {
		r := runHostile(t, nil, []string{"LISTEN_PID=self", "LISTEN_FDS=2", "ACTIVATION_TEST_OPEN=1"})
		if want := "activation: LISTEN_FDS=2 but fd 3 " + notTaken; r.Calls[0].Err != want {
			t.Errorf("error:\n-want %s\n+got  %s", want, r.Calls[0].Err)
		}
		if !contains(r.OpenBefore, 3) {
			t.Fatalf("the child's own file is not on fd 3: open fds %v", r.OpenBefore)
		}
		diff(t, "fds open among 3…9 after the call and two collections", r.OpenBefore, r.OpenAfter)
	})
	t.Run("an inherited fd other code marked first", func(t *testing.T) {
		r := runHostile(t, filesOf(pipeReader(t), pipeReader(t)), []string{"LISTEN_PID=self", "LISTEN_FDS=2", "ACTIVATION_TEST_MARK=4"})
		if want := "activation: LISTEN_FDS=2 but fd 4 " + notTaken; r.Calls[0].Err != want {
			t.Errorf("error:\n-want %s\n+got  %s", want, r.Calls[0].Err)
		}
		diff(t, "fds open among 3…9 after the call", []int{3, 4}, r.OpenAfter)
		diff(t, "fds left without FD_CLOEXEC", []int(nil), r.NotCloexec)
	})
}

// A manager that passes fds 3 and 5 and not 4 is wrong, but its input
// must not make the package take what the process itself put on fd 4.
func TestAHoleInTheRangeIsNeverFilledWithTheProcesssOwnFDs(t *testing.T) {
	t.Run("a listener the program opened is neither returned nor closed", func(t *testing.T) {
		web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		api, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		r := run(t, childProc{
			scenario: "calls",
			files:    []*os.File{web.file, nil, api.file},
			env:      append(activated(3), "ACTIVATION_TEST_OWN=listener", "ACTIVATION_TEST_CALLS=Listeners,Listeners"),
		})
		if r.OwnFD != 4 {
			t.Fatalf("the child's own listener is on fd %d, not in the hole at fd 4", r.OwnFD)
		}
		const want = "activation: LISTEN_FDS=3 but fd 4 is close-on-exec"
		for _, c := range r.Calls {
			if !strings.HasPrefix(c.Err, want) || c.Items != nil {
				t.Errorf("%s = %q, %q; want nothing and an error starting %q", c.Call, c.Items, c.Err, want)
			}
		}
		diff(t, "problems using the values, the child's own listener and a new one", []string(nil), r.Serve)
		diff(t, "variables left set", []string(nil), r.EnvLeft)
		diff(t, "fds of the range left without FD_CLOEXEC", []int(nil), r.NotCloexec)
	})
	t.Run("the runtime's poller is not handed out by Files", func(t *testing.T) {
		// With a non-blocking socket on stdin (StandardInput=socket,
		// NonBlocking=yes) the runtime makes its poller before main, on
		// the lowest free fd: the hole.
		r := run(t, childProc{
			scenario: "calls",
			files:    []*os.File{pipeReader(t).file, nil, pipeReader(t).file},
			env:      append(activated(3), "ACTIVATION_TEST_CALLS=Files,Files", "ACTIVATION_TEST_SHOW_FD=4"),
			stdin:    nonBlockingSocket(t),
		})
		if r.Shown != "anon_inode:[eventpoll]" {
			t.Fatalf("fd 4 of the child is %q, not the runtime's poller", r.Shown)
		}
		const want = "activation: LISTEN_FDS=3 but fd 4 is close-on-exec"
		for _, c := range r.Calls {
			if !strings.HasPrefix(c.Err, want) || c.Items != nil {
				t.Errorf("%s = %q, %q; want nothing and an error starting %q", c.Call, c.Items, c.Err, want)
			}
		}
		diff(t, "problems using the network after the calls", []string(nil), r.Serve)
		diff(t, "fds of the range left without FD_CLOEXEC", []int(nil), r.NotCloexec)
	})
	t.Run("memory follows the fds open, not the count", func(t *testing.T) {
		// Two fds passed, the first and the last of a long range.
		n := 14998
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && uint64(rl.Max) < uint64(n)+16 {
			n = int(rl.Max) - 16
		}
		files := make([]*os.File, n)
		files[0], files[n-1] = pipeReader(t).file, pipeReader(t).file
		r := runHostile(t, files, []string{"LISTEN_PID=self", "LISTEN_FDS=" + strconv.Itoa(n)})
		want := fmt.Sprintf("activation: LISTEN_FDS=%d but fd 4 ", n)
		if !strings.HasPrefix(r.Calls[0].Err, want) {
			t.Errorf("error %q, want one starting %q", r.Calls[0].Err, want)
		}
		if r.Allocated > 16<<10 {
			t.Errorf("the call allocated %d bytes for two fds, want under 16 KiB", r.Allocated)
		}
	})
}

// nonBlockingSocket is one end of a socket pair in non-blocking mode; the
// test keeps the other end until it ends.
func nonBlockingSocket(t *testing.T) *os.File {
	t.Helper()
	fds, err := socketpair(unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	ours, peer := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { ours.Close(); peer.Close() })
	return ours
}

// socketpair makes a unix socket pair of type typ, close-on-exec. Not
// every system has SOCK_CLOEXEC: the flag is set under the fork lock.
func socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// After a failed first call no inherited fd of the range stays
// inheritable, wherever the failure was, and no fd outside the range, or
// not inherited, is touched.
func TestNothingInheritableStaysAfterAnError(t *testing.T) {
	tests := []struct {
		name       string
		files      int // pipes passed as fds 3, 4, …
		hole       int // the fd left closed, or 0
		env        []string
		err        string
		notCloexec []int // fds among 3…9 left without FD_CLOEXEC
	}{
		{"fds after a hole are marked", 3, 4,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3"}, "activation: LISTEN_FDS=3 but fd 4 ", nil},
		{"fds after a hole are marked however large the count", 3, 4,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=2000000000"}, "activation: LISTEN_FDS=2000000000 but fd 4 ", nil},
		{"an fd beyond the range is not touched", 4, 4,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3"}, "activation: LISTEN_FDS=3 but fd 4 ", []int{6}},
		{"every fd is marked when the names do not match", 3, 0,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3", "LISTEN_FDNAMES=a:b"}, `activation: LISTEN_FDNAMES="a:b": names 2 fds but LISTEN_FDS is 3`, nil},
		{"a malformed count touches no fd", 3, 0,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3x"}, `activation: LISTEN_FDS="3x": not a number`, []int{3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []*os.File
			for i := 0; i < tt.files; i++ {
				files = append(files, pipeReader(t).file)
			}
			if tt.hole != 0 {
				files[tt.hole-3] = nil
			}
			r := runHostile(t, files, tt.env)
			if !strings.HasPrefix(r.Calls[0].Err, tt.err) {
				t.Errorf("error %q, want one starting %q", r.Calls[0].Err, tt.err)
			}
			for i, f := range files {
				if f != nil && !contains(r.OpenAfter, 3+i) {
					t.Errorf("fd %d was closed", 3+i)
				}
			}
			diff(t, "fds among 3…9 left without FD_CLOEXEC", tt.notCloexec, r.NotCloexec)
			diff(t, "variables left set", []string(nil), r.EnvLeft)
		})
	}
}

// LISTEN_FDNAMES for another process is not split: its size costs nothing.
func TestNamesForAnotherProcessAreNotSplit(t *testing.T) {
	r := runHostile(t, nil, []string{"LISTEN_PID=1", "LISTEN_FDS=2", "ACTIVATION_TEST_NAMES=2000000"})
	if r.Calls[0].Err != "" || r.Calls[0].Items != nil {
		t.Errorf("Files() = %q, %q; want nothing and no error", r.Calls[0].Items, r.Calls[0].Err)
	}
	if r.Allocated > 64<<10 {
		t.Errorf("the call allocated %d bytes for a 10 MB LISTEN_FDNAMES not meant for it, want under 64 KiB", r.Allocated)
	}
}

// A call that fails on its arguments, made first, still reads and unsets
// the environment and marks the fds.
func TestAFirstCallWithBadArgumentsStillTakesOverTheEnvironment(t *testing.T) {
	for _, call := range []string{"TLSListeners", "Listen udp sd-listen", "ListenPacket tcp sd-listen"} {
		t.Run(call, func(t *testing.T) {
			web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
			dns := udpConn(t, "udp4", "127.0.0.1:0")
			r := run(t, childProc{
				scenario: "calls",
				files:    filesOf(web, dns),
				env:      append(activated(2), "ACTIVATION_TEST_CALLS="+call+",Listeners"),
			})
			if r.Calls[0].Err == "" {
				t.Errorf("%s succeeded", call)
			}
			diff(t, "then Listeners", callResult{Call: "Listeners", Items: []string{web.desc}}, r.Calls[1])
			diff(t, "variables left set after the first call", []string(nil), r.EnvLeft)
			diff(t, "fds left without FD_CLOEXEC after the first call", []int(nil), r.NotCloexec)
		})
	}
}

// A host name is resolved with no lock held: neither syscall.ForkLock
// (which would stall every os/exec) nor the package's own.
func TestListenResolvesHostNamesWithoutHoldingLocks(t *testing.T) {
	web, l := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "resolve",
		files:    filesOf(web),
		env:      append(activated(1), "ACTIVATION_TEST_PORT="+strconv.Itoa(l.Addr().(*net.TCPAddr).Port)),
	})
	diff(t, "what blocked", []string(nil), r.Serve)
}

// One end of a SOCK_SEQPACKET socket pair is a connection: Conns returns
// it as a *net.UnixConn, and it is described as unnamed.
func TestASeqpacketConnectionGoesToConns(t *testing.T) {
	fds, err := socketpair(unix.SOCK_SEQPACKET)
	if err != nil {
		t.Fatal(err)
	}
	ours, peer := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { ours.Close(); peer.Close() })
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{ours},
		env:      append(activated(1, "pkt"), "ACTIVATION_TEST_CALLS=Listeners,PacketConns,Conns"),
	})
	diff(t, "calls", []callResult{
		{Call: "Listeners"},
		{Call: "PacketConns"},
		{Call: "Conns", Items: []string{"*net.UnixConn unixpacket @"}},
	}, r.Calls)
	diff(t, "Inherited", []string{`fd 3 "pkt": unixpacket connection on (unnamed) from (unnamed), claimed`}, r.Inherited)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 64)
	if n, err := peer.Read(b); err != nil || string(b[:n]) != "hello from the child" {
		t.Errorf("the peer read %q, %v", b[:n], err)
	}
}

// Listen("tcp", "0.0.0.0:P") takes a dual-stack [::]:P socket, which
// systemd's ListenStream=P makes and which a bind of 0.0.0.0:P would
// collide with; not an IPv6-only one.
func TestListenOnIPv4WildcardTakesADualStackSocket(t *testing.T) {
	dual, dl := tcpListener(t, "tcp", "[::]:0")
	only, ol := tcpListener(t, "tcp6", "[::]:0") // Go makes tcp6 wildcard sockets IPv6-only
	dualPort, onlyPort := dl.Addr().(*net.TCPAddr).Port, ol.Addr().(*net.TCPAddr).Port
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(dual, only),
		env: append(activated(2, "dual", "only"), fmt.Sprintf("ACTIVATION_TEST_CALLS=Listen tcp4 0.0.0.0:%d,Listen tcp 0.0.0.0:%d,Listen tcp 0.0.0.0:%d",
			dualPort, dualPort, onlyPort)),
	})
	if c := r.Calls[0]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use: tcp4 does not take an IPv6 socket", c.Call, c.Items, c.Err)
	}
	diff(t, "Listen tcp 0.0.0.0:PORT of the dual-stack socket", callResult{Call: r.Calls[1].Call, Items: []string{dual.desc}}, r.Calls[1])
	// net.Listen("tcp", "0.0.0.0:P") binds a dual-stack [::]:P, which
	// collides with the IPv6-only socket; that one serves no IPv4, so it
	// is not taken either.
	if c := r.Calls[2]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use, not the IPv6-only socket", c.Call, c.Items, c.Err)
	}
	if len(r.Inherited) != 2 || strings.HasSuffix(r.Inherited[1], "claimed") {
		t.Errorf("Inherited: %q; want the IPv6-only socket unclaimed", r.Inherited)
	}
}

// A unix socket path matches the file the inherited socket is bound to,
// however the path reaches it.
func TestListenOnAUnixPathComparesFiles(t *testing.T) {
	dir := filepath.Dir(activationtest.SocketPath(t, "x"))
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run", filepath.Join(dir, "var-run")); err != nil {
		t.Fatal(err)
	}
	sock := unixListener(t, "unix", filepath.Join(dir, "run", "app.sock"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(sock),
		env:      append(activated(1), "ACTIVATION_TEST_CALLS=Listen unixpacket var-run/app.sock,Listen unix var-run/app.sock"),
		dir:      dir,
	})
	if c := r.Calls[0]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use: a stream socket is not unixpacket", c.Call, c.Items, c.Err)
	}
	diff(t, "through a symbolic link, relative to the working directory", callResult{Call: r.Calls[1].Call, Items: []string{sock.desc}}, r.Calls[1])
}

func runHostile(t *testing.T, files []*os.File, env []string) report {
	return run(t, childProc{scenario: "hostile", files: files, env: env})
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestListenTakesWhatTheAddressNames(t *testing.T) {
	dir := filepath.Dir(activationtest.SocketPath(t, "sock"))
	web, webL := tcpListener(t, "tcp4", "127.0.0.1:0")
	api, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", filepath.Join(dir, "sock"))
	dup0, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dup1, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	files := filesOf(web, api, dns, sock, dup0, dup1)
	env := activated(6, "web", "api", "dns", "sock", "dup", "dup")
	webPort := webL.Addr().(*net.TCPAddr).Port
	inherited := `inherited: fd 3 "web": tcp listener on ` + webL.Addr().String()

	tests := []struct {
		name  string
		calls []string
		want  []callResult
	}{
		{"sd-listen:NAME takes the listener of that name", []string{"Listen tcp sd-listen:web"},
			[]callResult{{Items: []string{web.desc}}}},
		{"sd-listen:NAME:I takes the I-th fd of that name", []string{"Listen tcp sd-listen:dup:1", "Listen tcp sd-listen:dup:0"},
			[]callResult{{Items: []string{dup1.desc}}, {Items: []string{dup0.desc}}}},
		{"sd-listen:NAME with several of that name asks for an index", []string{"Listen tcp sd-listen:dup"},
			[]callResult{{Err: `activation: listen tcp sd-listen:dup: 2 unclaimed listeners are named "dup"; choose one with sd-listen:dup:INDEX; ` + inherited}}},
		{"sd-listen alone with several listeners asks for a name", []string{"Listen tcp sd-listen"},
			[]callResult{{Err: "activation: listen tcp sd-listen: 5 unclaimed listeners were inherited; choose one with sd-listen:NAME; " + inherited}}},
		{"a name taken twice fails the second time", []string{"Listen tcp sd-listen:web", "Listen tcp sd-listen:web"},
			[]callResult{{Items: []string{web.desc}}, {Err: `activation: listen tcp sd-listen:web: no unclaimed listener is named "web"; ` + inherited + ", claimed"}}},
		{"fd:N takes that fd", []string{"Listen tcp fd:4"},
			[]callResult{{Items: []string{api.desc}}}},
		{"fd:N of a datagram socket is not a listener", []string{"Listen tcp fd:5"},
			[]callResult{{Err: `activation: listen tcp fd:5: fd 5 ("dns") is not a listener; ` + inherited}}},
		{"fd:N of an fd not passed says so", []string{"Listen tcp fd:42"},
			[]callResult{{Err: `activation: listen tcp fd:42: fd 42 was not inherited; ` + inherited}}},
		{"an index beyond the fds of that name says how many there are", []string{"Listen tcp sd-listen:dup:2"},
			[]callResult{{Err: `activation: listen tcp sd-listen:dup:2: asked for fd 2 named "dup", but 2 fds have that name; ` + inherited}}},
		{"the address an inherited socket is bound to takes it", []string{"Listen tcp 127.0.0.1:" + strconv.Itoa(webPort)},
			[]callResult{{Items: []string{web.desc}}}},
		{"a tcp6 address does not take an IPv4 socket", []string{"Listen tcp6 127.0.0.1:" + strconv.Itoa(webPort)},
			[]callResult{{Err: "listen tcp6: address 127.0.0.1: no suitable address found"}}},
		{"a unix path an inherited socket is bound to takes it", []string{"Listen unix " + filepath.Join(dir, ".", "sock")},
			[]callResult{{Items: []string{sock.desc}}}},
		{"ListenPacket takes a datagram socket by name", []string{"ListenPacket udp sd-listen:dns"},
			[]callResult{{Items: []string{dns.desc}}}},
		{"ListenPacket refuses a listener", []string{"ListenPacket udp sd-listen:web"},
			[]callResult{{Err: `activation: listen udp sd-listen:web: no unclaimed datagram socket is named "web"; ` + inherited}}},
		{"an unknown network is refused", []string{"Listen udp sd-listen:web"},
			[]callResult{{Err: "listen udp: unknown network udp"}}},
		{"a malformed fd number is refused", []string{"Listen tcp fd:x"},
			[]callResult{{Err: `activation: listen tcp fd:x: "x" is not a file descriptor number; ` + inherited}}},
		{"a negative fd number is refused", []string{"Listen tcp fd:-1"},
			[]callResult{{Err: `activation: listen tcp fd:-1: "-1" is not a file descriptor number; ` + inherited}}},
		{"a missing fd number is refused", []string{"Listen tcp fd:"},
			[]callResult{{Err: `activation: listen tcp fd:: "" is not a file descriptor number; ` + inherited}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, childProc{scenario: "calls", files: files, env: append(env, "ACTIVATION_TEST_CALLS="+strings.Join(tt.calls, ","))})
			for i := range tt.want {
				tt.want[i].Call = tt.calls[i]
			}
			got := r.Calls
			for i := range got {
				// An error from net.Listen carries an errno text: compare its start.
				if w := tt.want[i].Err; w != "" && strings.HasPrefix(got[i].Err, w) {
					got[i].Err = w
				}
			}
			diff(t, "calls", tt.want, got)
			diff(t, "problems using the values", []string(nil), r.Serve)
		})
	}
}

func TestListenWithoutActivationFallsBack(t *testing.T) {
	r := run(t, childProc{scenario: "calls", env: []string{"ACTIVATION_TEST_CALLS=Listen tcp 127.0.0.1:0,Listen tcp sd-listen:web,ListenPacket udp [::1]:0,Listeners"}})
	if len(r.Calls) != 4 {
		t.Fatalf("calls: %+v", r.Calls)
	}
	if c := r.Calls[0]; c.Err != "" || len(c.Items) != 1 || !strings.HasPrefix(c.Items[0], "*net.TCPListener tcp 127.0.0.1:") {
		t.Errorf("Listen tcp 127.0.0.1:0 = %+v, want a listener of its own", c)
	}
	diff(t, "sd-listen without activation", callResult{Call: "Listen tcp sd-listen:web", Err: "activation: listen tcp sd-listen:web: nothing was inherited"}, r.Calls[1])
	if c := r.Calls[2]; c.Err != "" || len(c.Items) != 1 || !strings.HasPrefix(c.Items[0], "*net.UDPConn udp [::1]:") {
		t.Errorf("ListenPacket udp [::1]:0 = %+v, want a socket of its own", c)
	}
	diff(t, "Listeners without activation", callResult{Call: "Listeners"}, r.Calls[3])
	diff(t, "problems using the values", []string(nil), r.Serve)
}

// activationtest passes sockets the way NonBlocking=yes does, and sets
// LISTEN_PID through its shim rather than in the child.
func TestNonBlockingSocketsFromActivationtest(t *testing.T) {
	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	dns := activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0")
	cmd, err := activationtest.Command([]activationtest.Socket{web, dns}, os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "ACTIVATION_TEST_CALLS=ListenersWithNames,PacketConnsWithNames")
	t.Cleanup(func() {
		for _, f := range cmd.ExtraFiles {
			f.Close()
		}
	})
	r := runCmd(t, "calls", cmd)
	diff(t, "calls", []callResult{
		{Call: "ListenersWithNames", Items: []string{"web=*net.TCPListener tcp " + web.Listener.Addr().String()}},
		{Call: "PacketConnsWithNames", Items: []string{"dns=*net.UDPConn udp " + dns.PacketConn.LocalAddr().String()}},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	diff(t, "variables left set", []string(nil), r.EnvLeft)
	if r.FDsHeld != r.FDsBefore {
		t.Errorf("open fds: %d before the calls, %d while holding every value", r.FDsBefore, r.FDsHeld)
	}
}
