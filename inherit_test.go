//go:build unix

package activation_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
		{"a lone trailing backslash in the names is refused after marking the fds", 1,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=1", `LISTEN_FDNAMES=web\`},
			want{err: `activation: LISTEN_FDNAMES="web\\": ends in a lone backslash`, openAfter: []int{3}, cloexecOn3: true}},
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
		// The runtime may hold fds of its own above them by now.
		if !contains(r.OpenAfter, 3) || !contains(r.OpenAfter, 4) {
			t.Errorf("fds open among 3…9 after the call: %v; want the inherited 3 and 4 left open", r.OpenAfter)
		}
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
			env:      append(activated(3), "ACTIVATION_TEST_OWN=listener"),

			calls: []call{listenersCall(), listenersCall()},
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
			env:      append(activated(3), "ACTIVATION_TEST_SHOW_FD=4"),

			calls: []call{filesCall(), filesCall()},
			stdin: nonBlockingSocket(t),
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
		{"every fd is marked when a name ends in a lone backslash", 3, 0,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3", `LISTEN_FDNAMES=a:b:c\`}, `activation: LISTEN_FDNAMES="a:b:c\\": ends in a lone backslash`, nil},
		{"every fd is marked when LISTEN_PIDFDID is malformed", 3, 0,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3", "LISTEN_PIDFDID=12x"}, `activation: LISTEN_PIDFDID="12x": not a number`, nil},
		{"malformed names for another process touch no fd", 3, 0,
			[]string{"LISTEN_PID=1", "LISTEN_FDS=3", `LISTEN_FDNAMES=a\`}, `activation: LISTEN_FDNAMES="a\\": ends in a lone backslash`, []int{3, 4, 5}},
		{"malformed names with a malformed count touch no fd", 3, 0,
			[]string{"LISTEN_PID=self", "LISTEN_FDS=3x", `LISTEN_FDNAMES=a\`}, `activation: LISTEN_FDNAMES="a\\": ends in a lone backslash`, []int{3, 4, 5}},
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
	for _, c := range []call{tlsListenersCall(), listenCall("udp", "sd-listen"), listenPacketCall("tcp", "sd-listen")} {
		t.Run(c.String(), func(t *testing.T) {
			web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
			dns := udpConn(t, "udp4", "127.0.0.1:0")
			r := run(t, childProc{
				scenario: "calls",
				files:    filesOf(web, dns),
				env:      activated(2),
				calls:    []call{c, listenersCall()},
			})
			if r.Calls[0].Err == "" {
				t.Errorf("%s succeeded", c)
			}
			diff(t, "then Listeners", callResult{Call: "Listeners", Items: []string{web.desc}}, r.Calls[1])
			diff(t, "variables left set after the first call", []string(nil), r.EnvLeft)
			diff(t, "fds left without FD_CLOEXEC after the first call", []int(nil), r.NotCloexec)
		})
	}
}
