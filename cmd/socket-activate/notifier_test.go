//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendersKnown reports whether the system tells which process sent a
// datagram: Linux and FreeBSD do.
func sendersKnown() bool {
	return runtime.GOOS == "linux" || runtime.GOOS == "freebsd"
}

// needsSenderPID skips a test where messages do not name their sender.
func needsSenderPID(t *testing.T) {
	if !sendersKnown() {
		t.Skipf("%s does not tell which process sent a datagram", runtime.GOOS)
	}
}

// syncBuffer is a bytes.Buffer that the notifier's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Lines returns the lines written so far.
func (b *syncBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// notifierTest is a notifier run inside the test process, which sends it
// messages as its program would.
type notifierTest struct {
	t      *testing.T
	n      *notifier
	stderr *syncBuffer
}

// newNotifierTest starts a notifier with cfg, in which this test process
// runs as the program, and closes it at the end of the test.
func newNotifierTest(t *testing.T, cfg notifyConfig) *notifierTest {
	t.Helper()
	out := &syncBuffer{}
	n, err := newNotifier(out, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	nt := &notifierTest{t: t, n: n, stderr: out}
	nt.start()
	return nt
}

// start starts a run of the program, this test process.
func (nt *notifierTest) start() []string {
	nt.t.Helper()
	var env []string
	err := nt.n.handOver(func(_ []*os.File, _, e []string) (int, error) {
		env = e
		return os.Getpid(), nil
	})
	if err != nil {
		nt.t.Fatal(err)
	}
	return env
}

// send sends msg with fds from this process and returns once the notifier
// has handled it: it sends a barrier after it and waits until the
// notifier closes the barrier's pipe.
func (nt *notifierTest) send(msg string, fds ...int) {
	nt.t.Helper()
	nt.sendOnly(msg, fds...)
	r, w, err := os.Pipe()
	if err != nil {
		nt.t.Fatal(err)
	}
	defer r.Close()
	nt.sendOnly("BARRIER=1", int(w.Fd()))
	w.Close()
	r.SetReadDeadline(time.Now().Add(timeout))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		nt.t.Fatalf("barrier after %q: read %d bytes, %v; want EOF", msg, n, err)
	}
}

// sendOnly sends msg with fds and returns at once.
func (nt *notifierTest) sendOnly(msg string, fds ...int) {
	nt.t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		nt.t.Fatal(err)
	}
	defer unix.Close(fd)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, []byte(msg), oob, &unix.SockaddrUnix{Name: nt.n.path}, 0); err != nil {
		nt.t.Fatalf("sending %q: %v", msg, err)
	}
}

// stored returns the names of the stored fds, in the order they would be
// passed.
func (nt *notifierTest) stored() []string {
	nt.t.Helper()
	nt.n.mu.Lock()
	defer nt.n.mu.Unlock()
	nt.n.pruneLocked()
	var got []string
	for _, s := range nt.n.store {
		got = append(got, s.name)
	}
	return got
}

// openFD opens name and returns its fd, closed at the end of the test.
func openFD(t *testing.T, name string, flag int) int {
	t.Helper()
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func TestFDStoreKeepsDistinctOpenFiles(t *testing.T) {
	nt := newNotifierTest(t, notifyConfig{storeMax: maxStored})
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer closeFDs(p[:])
	nt.send("FDSTORE=1\nFDNAME=read-end", p[0])
	nt.send("FDSTORE=1\nFDNAME=write-end", p[1])
	nt.send("FDSTORE=1\nFDNAME=null", openFD(t, os.DevNull, os.O_RDWR))
	nt.send("FDSTORE=1\nFDNAME=null-again", openFD(t, os.DevNull, os.O_RDWR))
	nt.send("FDSTORE=1\nFDNAME=file", openFD(t, path, os.O_RDONLY))
	nt.send("FDSTORE=1\nFDNAME=file-again", openFD(t, path, os.O_RDONLY))
	nt.send("FDSTORE=1\nFDNAME=read-end-again", p[0])
	twice := openFD(t, path, os.O_WRONLY)
	nt.send("FDSTORE=1\nFDNAME=sent-twice", twice, twice)
	want := []string{"read-end", "write-end", "null", "null-again", "file", "file-again", "sent-twice"}
	if !comparesOpenFiles(t) {
		// systemd's fallback: same inode, same flags.
		want = []string{"read-end", "write-end", "null", "null-again", "file", "sent-twice"}
	}
	if got := nt.stored(); !reflect.DeepEqual(got, want) {
		t.Errorf("stored fds:\n%s", diff(want, got))
	}
}

// newLines returns the lines the notifier printed since the last call.
func (nt *notifierTest) newLines(seen *int) []string {
	all := nt.stderr.Lines()
	got := append([]string(nil), all[*seen:]...)
	*seen = len(all)
	if len(got) == 0 {
		return nil
	}
	return got
}

// closedPipes returns the write ends of n new pipes, to send, and a
// function that reports whether the receiver closed all of them: once
// this test closed its own copies, each read end reads end of file.
func closedPipes(t *testing.T, n int) (fds []int, closed func() bool) {
	t.Helper()
	var readers, writers []*os.File
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		readers, writers = append(readers, r), append(writers, w)
		fds = append(fds, int(w.Fd()))
	}
	return fds, func() bool {
		for _, w := range writers {
			w.Close()
		}
		for _, r := range readers {
			r.SetReadDeadline(time.Now().Add(timeout))
			if _, err := r.Read(make([]byte, 1)); err != io.EOF {
				return false
			}
		}
		return true
	}
}

// skipAccessNote leaves out the line that says, where messages do not name
// their sender, which access the notifier falls back to.
func skipAccessNote(lines []string) []string {
	if len(lines) > 0 && strings.HasPrefix(lines[0], "socket-activate: notify access: all (") {
		return lines[1:]
	}
	return lines
}

func TestNotifierPrintsStateChangesAsSystemctlStatus(t *testing.T) {
	nt := newNotifierTest(t, notifyConfig{storeMax: maxStored})
	seen := 0
	if got, want := skipAccessNote(nt.newLines(&seen)), []string{"socket-activate: Active: activating (start)"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("at the start:\n%s", diff(want, got))
	}
	steps := []struct {
		msg  string
		want []string
	}{
		{"READY=1", []string{"Active: active (running)"}},
		{"READY=1", nil},
		{"STATUS=serving", []string{`Status: "serving"`}},
		{"STATUS=serving\nX-UNKNOWN=1", nil},
		{"RELOADING=1\nMONOTONIC_USEC=12345", []string{"Active: reloading (reload)"}},
		{"READY=1\nSTATUS=reloaded", []string{"Active: active (running)", `Status: "reloaded"`}},
		{"ERRNO=2", []string{"Error: 2 (No such file or directory)"}},
		{"ERRNO=2", nil},
		{"EXIT_STATUS=3", []string{"Exit status: 3"}},
		{"STATUS=", []string{`Status: ""`}},
		{"MAINPID=" + strconv.Itoa(os.Getpid()), nil},
		{"STOPPING=1", []string{"Active: deactivating (stop-sigterm)"}},
		{"READY=1", nil},
		{"RELOADING=1", nil},
	}
	for _, st := range steps {
		nt.send(st.msg)
		var want []string
		for _, l := range st.want {
			want = append(want, "socket-activate: "+l)
		}
		if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
			t.Errorf("after %q:\n%s", st.msg, diff(want, got))
		}
	}
}

func TestNotifierWarnsAboutBadMessagesInSystemdsWords(t *testing.T) {
	tests := []struct {
		msg  string
		fds  int
		want string // the warning, after "socket-activate: warning: "
	}{
		{"BARRIER=1\nREADY=1", 1, "Extra notification messages sent with BARRIER=1, ignoring everything."},
		{"BARRIER=1", 0, "Got incorrect number of fds with BARRIER=1, closing them."},
		{"BARRIER=1", 2, "Got incorrect number of fds with BARRIER=1, closing them."},
		{"READY=1\x00", 1, "Received notify message with embedded NUL bytes, ignoring."},
		{"MONOTONIC_USEC=soon", 0, "Failed to parse MONOTONIC_USEC= field in notification message, ignoring: soon"},
		{"ERRNO=EPERM", 0, "Failed to parse ERRNO= field value 'EPERM' in notification message"},
		{"ERRNO=-1", 0, "Failed to parse ERRNO= field value '-1' in notification message"},
		{"EXIT_STATUS=256", 0, "Failed to parse EXIT_STATUS=256"},
		{"EXTEND_TIMEOUT_USEC=1s", 0, "Failed to parse EXTEND_TIMEOUT_USEC=1s"},
		{"WATCHDOG=2", 0, "Passed WATCHDOG= field is invalid, ignoring."},
		{"WATCHDOG_USEC=-5", 0, "Failed to parse WATCHDOG_USEC=-5"},
		{"MAINPID=me", 0, "Failed to parse MAINPID=me field in notification message, ignoring: not a number"},
		{"MAINPID=0", 0, "Failed to parse MAINPID=0 field in notification message, ignoring: out of range"},
		{"STATUS=\xff", 0, "Status message in notification message is not UTF-8 clean, ignoring."},
		{"FDSTOREREMOVE=1", 0, "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."},
		{"FDSTOREREMOVE=1\nFDNAME=a:b", 0, "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."},
		{"READY=0", 2, "2 fds sent without FDSTORE=1 closed"},
		{"FDSTOREREMOVE=1\nFDNAME=x", 1, "1 fds sent without FDSTORE=1 closed"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.msg), func(t *testing.T) {
			nt := newNotifierTest(t, notifyConfig{storeMax: maxStored})
			seen := len(nt.stderr.Lines())
			fds, closed := closedPipes(t, tt.fds)
			nt.send(tt.msg, fds...)
			want := []string{"socket-activate: warning: " + tt.want}
			if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
				t.Errorf("sending %q with %d fds:\n%s", tt.msg, tt.fds, diff(want, got))
			}
			if !closed() {
				t.Errorf("the %d fds sent with %q were not closed", tt.fds, tt.msg)
			}
		})
	}
}

func TestNotifierStoresUnderTheDefaultNameForAnInvalidFDNAME(t *testing.T) {
	nt := newNotifierTest(t, notifyConfig{storeMax: maxStored})
	seen := len(nt.stderr.Lines())
	nt.send("FDSTORE=1\nFDNAME=a:b", openFD(t, os.DevNull, os.O_RDONLY))
	want := []string{"socket-activate: warning: Passed FDNAME= name is invalid, ignoring."}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s", diff(want, got))
	}
	if got, want := nt.stored(), []string{"stored"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored fds:\n%s", diff(want, got))
	}
}

func TestFDStoreMaxLimitsTheStore(t *testing.T) {
	t.Run("--fdstore-max=0 stores nothing and sets no FDSTORE", func(t *testing.T) {
		nt := newNotifierTest(t, notifyConfig{storeMax: 0})
		for _, kv := range nt.start() {
			if strings.HasPrefix(kv, "FDSTORE=") {
				t.Errorf("the program gets %s with --fdstore-max=0", kv)
			}
		}
		seen := len(nt.stderr.Lines())
		fds, closed := closedPipes(t, 2)
		nt.send("FDSTORE=1\nFDNAME=web", fds...)
		want := []string{"socket-activate: warning: Cannot store more fds than --fdstore-max=0, closing remaining."}
		if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
			t.Errorf("warnings:\n%s", diff(want, got))
		}
		if !closed() {
			t.Error("the fds sent were not closed")
		}
		if got := nt.stored(); len(got) != 0 {
			t.Errorf("stored %q", got)
		}
	})
	t.Run("--fdstore-max=2 keeps two of three fds and closes the third", func(t *testing.T) {
		nt := newNotifierTest(t, notifyConfig{storeMax: 2})
		if env := nt.start(); len(env) < 2 || env[1] != "FDSTORE=2" {
			t.Errorf("the program's environment from the notifier is %q, want FDSTORE=2 in it", env)
		}
		seen := len(nt.stderr.Lines())
		fds, closed := closedPipes(t, 1)
		nt.send("FDSTORE=1\nFDNAME=x\nFDPOLL=0", openFD(t, os.DevNull, os.O_RDONLY), openFD(t, os.DevNull, os.O_RDONLY), fds[0])
		want := []string{"socket-activate: warning: Cannot store more fds than --fdstore-max=2, closing remaining."}
		if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
			t.Errorf("warnings:\n%s", diff(want, got))
		}
		if !closed() {
			t.Error("the third fd was not closed")
		}
		if got, want := nt.stored(), []string{"x", "x"}; !reflect.DeepEqual(got, want) {
			t.Errorf("stored fds:\n%s", diff(want, got))
		}
	})
}

func TestNotifierGivesTheProgramItsVariables(t *testing.T) {
	nt := newNotifierTest(t, notifyConfig{storeMax: 16, watchdog: 1500 * time.Millisecond})
	want := []string{"NOTIFY_SOCKET=" + nt.n.path, "FDSTORE=16", "WATCHDOG_USEC=1500000"}
	if got := nt.start(); !reflect.DeepEqual(got, want) {
		t.Errorf("the program's variables from the notifier:\n%s", diff(want, got))
	}
}

// sleeper starts "sleep 60" in the process group pgid (a new one for 0)
// and kills it at the end of the test.
func sleeper(t *testing.T, pgid int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// startOther starts a run of the notifier whose program is cmd, not this
// test process.
func (nt *notifierTest) startOther(cmd *exec.Cmd) {
	nt.t.Helper()
	err := nt.n.handOver(func(_ []*os.File, _, _ []string) (int, error) { return cmd.Process.Pid, nil })
	if err != nil {
		nt.t.Fatal(err)
	}
}

func TestNotifierChecksANewMainPID(t *testing.T) {
	prog := sleeper(t, 0)
	sameGroup := sleeper(t, prog.Process.Pid)
	otherGroup := sleeper(t, 0)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	outside := "New main PID %d does not belong to service, refusing."
	if os.Geteuid() == 0 && sendersKnown() {
		// systemd lets a privileged sender name any process.
		outside = "Main PID: %d"
	}
	nt := newNotifierTest(t, notifyConfig{access: "all", storeMax: maxStored})
	nt.startOther(prog)
	steps := []struct {
		pid  int
		want string
	}{
		{os.Getpid(), "warning: New main PID %d is the manager itself, refusing."},
		{gone.Process.Pid, "warning: New main PID %d does not exist or is a zombie."},
		{sameGroup.Process.Pid, "Main PID: %d"},
		{otherGroup.Process.Pid, outside},
	}
	for _, st := range steps {
		seen := len(nt.stderr.Lines())
		nt.send("MAINPID=" + strconv.Itoa(st.pid))
		if !strings.HasPrefix(st.want, "Main PID") && !strings.HasPrefix(st.want, "warning: ") {
			st.want = "warning: " + st.want
		}
		want := []string{"socket-activate: " + fmt.Sprintf(st.want, st.pid)}
		if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
			t.Errorf("MAINPID=%d:\n%s", st.pid, diff(want, got))
		}
	}
}

func TestNotifyAccessRefusesOtherProcesses(t *testing.T) {
	needsSenderPID(t)
	self := os.Getpid()
	for _, access := range []string{"main", "exec", "all"} {
		t.Run(access, func(t *testing.T) {
			prog := sleeper(t, 0)
			nt := newNotifierTest(t, notifyConfig{access: access, storeMax: maxStored})
			nt.startOther(prog)
			seen := len(nt.stderr.Lines())
			fds, closed := closedPipes(t, 1)
			nt.send("READY=1\nFDSTORE=1\nFDNAME=refused\nFDPOLL=0", fds...)
			want := []string{fmt.Sprintf("socket-activate: warning: Got notification message from PID %d, but reception only permitted for main PID %d", self, prog.Process.Pid)}
			if access == "all" {
				want = []string{"socket-activate: Active: active (running)"}
			} else if !closed() {
				t.Error("the fds of a refused message were not closed")
			}
			if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
				t.Errorf("a message from another process:\n%s", diff(want, got))
			}
			// Between runs, no process is main.
			prog.Process.Kill()
			prog.Wait()
			nt.n.ended(prog.ProcessState)
			if got, want := nt.newLines(&seen), []string{"socket-activate: Active: failed (Result: signal)"}; !reflect.DeepEqual(got, want) {
				t.Errorf("the program killed by SIGKILL:\n%s", diff(want, got))
			}
			nt.send("STATUS=between runs")
			want = map[string][]string{
				"main": {fmt.Sprintf("socket-activate: warning: Got notification message from PID %d, but reception only permitted for main PID which is currently not known", self)},
				"exec": {fmt.Sprintf("socket-activate: warning: Got notification message from PID %d, but reception only permitted for main PID and control PID which are currently not known", self)},
			}[access]
			if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
				t.Errorf("a message between runs:\n%s", diff(want, got))
			}
		})
	}
}

func TestNotifierTimeouts(t *testing.T) {
	// stopped waits for the notifier to ask for the program to stop.
	stopped := func(t *testing.T, nt *notifierTest) syscall.Signal {
		t.Helper()
		select {
		case req := <-nt.n.stops:
			return req.sig
		case <-time.After(timeout):
			t.Fatalf("no stop request within %v:\n%s", timeout, strings.Join(nt.stderr.Lines(), "\n"))
			return 0
		}
	}
	deadlines := func(nt *notifierTest) (start, watchdog bool) {
		nt.n.mu.Lock()
		defer nt.n.mu.Unlock()
		return !nt.n.svc.startDeadline.IsZero(), !nt.n.svc.watchdogDeadline.IsZero()
	}
	t.Run("EXTEND_TIMEOUT_USEC postpones the start timeout", func(t *testing.T) {
		start := time.Now()
		nt := newNotifierTest(t, notifyConfig{startTimeout: 200 * time.Millisecond})
		nt.send("EXTEND_TIMEOUT_USEC=700000")
		if sig := stopped(t, nt); sig != syscall.SIGTERM {
			t.Errorf("stopped with %v, want SIGTERM", sig)
		}
		if elapsed := time.Since(start); elapsed < 700*time.Millisecond {
			t.Errorf("stopped after %v, before the extension ran out", elapsed)
		}
	})
	t.Run("READY=1 ends the start timeout and starts the watchdog", func(t *testing.T) {
		nt := newNotifierTest(t, notifyConfig{startTimeout: time.Minute, watchdog: time.Minute})
		if start, watchdog := deadlines(nt); !start || watchdog {
			t.Errorf("before READY=1: start timeout running %v, watchdog running %v; want true, false", start, watchdog)
		}
		nt.send("READY=1")
		if start, watchdog := deadlines(nt); start || !watchdog {
			t.Errorf("after READY=1: start timeout running %v, watchdog running %v; want false, true", start, watchdog)
		}
		nt.send("STOPPING=1")
		if start, watchdog := deadlines(nt); start || watchdog {
			t.Errorf("after STOPPING=1: start timeout running %v, watchdog running %v; want false, false", start, watchdog)
		}
	})
	t.Run("socket-activate stopping the program ends both", func(t *testing.T) {
		nt := newNotifierTest(t, notifyConfig{startTimeout: time.Minute, watchdog: time.Minute})
		nt.send("WATCHDOG=1")
		nt.n.stopping()
		if start, watchdog := deadlines(nt); start || watchdog {
			t.Errorf("after stopping: start timeout running %v, watchdog running %v; want false, false", start, watchdog)
		}
	})
	t.Run("a missed ping aborts the program", func(t *testing.T) {
		nt := newNotifierTest(t, notifyConfig{watchdog: 200 * time.Millisecond})
		start := time.Now()
		nt.send("READY=1")
		if sig := stopped(t, nt); sig != syscall.SIGABRT {
			t.Errorf("stopped with %v, want SIGABRT", sig)
		}
		if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
			t.Errorf("aborted after %v, before the watchdog's interval", elapsed)
		}
		lines := nt.stderr.Lines()
		want := []string{"socket-activate: Watchdog timeout (limit 200ms)!", "socket-activate: Active: deactivating (stop-watchdog)"}
		if got := lines[len(lines)-2:]; !reflect.DeepEqual(got, want) {
			t.Errorf("the last lines:\n%s", diff(want, got))
		}
	})
}
