//go:build unix

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

// These tests run --notify in the edit-build loop of --watch: the new
// build's program has its own start timeout and watchdog, and counts as
// the main process from its READY=1 on.

func TestWatchSwitchKeepsTheStartTimeoutAndTheWatchdog(t *testing.T) {
	needsSenderPID(t)
	trigger := filepath.Join(t.TempDir(), "trigger")
	write(t, trigger, "0")
	p := startProc(t, append([]string{"--watch", trigger, "--notify", "--notify-access=main",
		"--timeout-start-sec=1500ms", "--watchdog-sec=1s"}, scriptArgs(t,
		// Run 1 pings the watchdog while it serves, then stops pinging
		// as it takes 2.5 s to stop, longer than the watchdog's interval.
		"ready;watchdog;say:run 1 ready;drain:2500ms",
		// Run 2 never becomes ready: its start times out.
		"say:run 2 started;block",
		// Run 3 becomes ready, and so the main process, but never pings.
		"ready;say:run 3 ready;block")...)...)
	p.stdout.Wait(t, "^run 1 ready$", 1)

	write(t, trigger, "1")
	p.stdout.Wait(t, "^run 2 started$", 1)
	p.stderr.Wait(t, `^socket-activate: the new program did not start; the program that ran before keeps running$`, 1)
	run2 := killedPID(t, p)

	write(t, trigger, "2")
	p.stdout.Wait(t, "^run 3 ready$", 1)
	run3 := p.stderr.Wait(t, `^socket-activate: Main PID: (\d+)$`, 1)[0][1]
	run1 := p.stderr.Wait(t, `^socket-activate: stopping the program that ran before \(pid (\d+)\) with SIGTERM$`, 1)[0][1]
	p.stdout.Wait(t, "^run 1 drained$", 1)
	p.stderr.Wait(t, `^socket-activate: program exited with status 134; starting it again after the next successful build$`, 1)
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want %d: SIGTERM came while no program ran", code, 128+int(syscall.SIGTERM))
	}

	waitEOF(t, p.stdout)
	// Run 1 stopped as it chose to, after its SIGTERM, however long it
	// went without a ping; run 3 got the watchdog's SIGABRT.
	wantOut := []string{"run 1 ready", "run 2 started", "run 3 ready", "got SIGABRT", "run 1 drained"}
	if got := strings.Split(p.stdout.Text(), "\n"); !reflect.DeepEqual(got, wantOut) {
		t.Errorf("the programs said (-want +got):\n%s", restarttest.Diff(wantOut, got))
	}
	var changed []string
	for _, l := range p.stderr.Matches(`^socket-activate: changed: .*$`) {
		changed = append(changed, l[0])
	}
	if len(changed) != 2 {
		t.Fatalf("%d changes seen, want 2:\n%s", len(changed), p.stderr.Text())
	}
	name := helperName(t)
	checkLines(t, p, map[string]string{run1: "RUN1", run2: "RUN2", run3: "RUN3"}, []string{
		"socket-activate: Active: activating (start)",
		"Execing PROG (PROG)",
		"socket-activate: Active: active (running)",
		changed[0],
		"socket-activate: new program: Active: activating (start)",
		"socket-activate: starting the new build: PROG",
		"Execing PROG (PROG)",
		"socket-activate: new program: start operation timed out. Terminating.",
		"socket-activate: new program: Active: deactivating (stop-sigterm)",
		"socket-activate: Killing process RUN2 (" + name + ") with signal SIGTERM.",
		"socket-activate: the new program did not start; the program that ran before keeps running",
		changed[1],
		"socket-activate: new program: Active: activating (start)",
		"socket-activate: starting the new build: PROG",
		"Execing PROG (PROG)",
		"socket-activate: new program: Active: active (running)",
		"socket-activate: Main PID: RUN3",
		"socket-activate: stopping the program that ran before (pid RUN1) with SIGTERM",
		"socket-activate: Watchdog timeout (limit 1s)!",
		"socket-activate: Active: deactivating (stop-watchdog)",
		"socket-activate: Killing process RUN3 (" + name + ") with signal SIGABRT.",
		"socket-activate: Active: failed (Result: watchdog)",
		"socket-activate: program exited with status 134; starting it again after the next successful build",
		"socket-activate: terminated with no program running; exiting",
	})
}

// startNext starts a new build's program in the notifier, which is this
// test process, while cmd runs as the main process.
func (nt *notifierTest) startNext(fallback time.Duration) {
	nt.t.Helper()
	err := nt.n.handOverNext(fallback, func(_ []*os.File, _, _ []string) (int, error) { return os.Getpid(), nil })
	if err != nil {
		nt.t.Fatal(err)
	}
}

func TestNotifierSwitchesToTheNewBuildsProgram(t *testing.T) {
	needsSenderPID(t)
	self := os.Getpid()
	old := sleeper(t, 0)
	nt := newNotifierTest(t, notifyConfig{access: "main", storeMax: maxStored, watchdog: time.Minute, startTimeout: time.Minute})
	nt.startOther(old)
	ready := nt.n.readyEvents()
	seen := len(nt.stderr.Lines())
	deadlines := func(s *service) (start, watchdog bool) {
		nt.n.mu.Lock()
		defer nt.n.mu.Unlock()
		return !s.startDeadline.IsZero(), !s.watchdogDeadline.IsZero()
	}

	nt.startNext(30 * time.Second)
	if start, watchdog := deadlines(&nt.n.next); !start || watchdog {
		t.Errorf("the new program before READY=1: start timeout running %v, watchdog running %v; want true, false", start, watchdog)
	}
	nt.send("STATUS=warming up")
	nt.send("READY=1")
	want := []string{
		"socket-activate: new program: Active: activating (start)",
		`socket-activate: new program: Status: "warming up"`,
		"socket-activate: new program: Active: active (running)",
	}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("the new program's messages, under --notify-access=main:\n%s", diff(want, got))
	}
	select {
	case <-ready:
	default:
		t.Error("the new program's READY=1 did not reach readyEvents")
	}
	if start, watchdog := deadlines(&nt.n.next); start || !watchdog {
		t.Errorf("the new program after READY=1: start timeout running %v, watchdog running %v; want false, true", start, watchdog)
	}
	if start, watchdog := deadlines(&nt.n.svc); !start || watchdog {
		t.Errorf("the program that runs, which never sent READY=1: start timeout running %v, watchdog running %v; want true, false", start, watchdog)
	}

	nt.n.switchTo(self)
	// The program that ran before never sent READY=1: the service is
	// ready now.
	want = []string{"socket-activate: Main PID: " + strconv.Itoa(self), "socket-activate: Active: active (running)"}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("at the switch:\n%s", diff(want, got))
	}
	if start, watchdog := deadlines(&nt.n.svc); start || !watchdog {
		t.Errorf("the main process after the switch: start timeout running %v, watchdog running %v; want false, true (its own)", start, watchdog)
	}
	nt.n.mu.Lock()
	retiring := nt.n.retiring[old.Process.Pid]
	nt.n.mu.Unlock()
	if !retiring {
		t.Errorf("the program that ran before is not among those being stopped")
	}
	// It exits: nothing changes, and nothing is said.
	old.Process.Kill()
	old.Wait()
	if nt.n.ended(old.ProcessState) {
		t.Error("ended reports that the notifier stopped the program that ran before")
	}
	if got := nt.newLines(&seen); got != nil {
		t.Errorf("the program that ran before exited, and the notifier said:\n%s", strings.Join(got, "\n"))
	}
	nt.n.mu.Lock()
	left, main := len(nt.n.retiring), nt.n.svc.pid
	nt.n.mu.Unlock()
	if left != 0 || main != self {
		t.Errorf("after the old program exited: %d programs being stopped, main PID %d; want 0, %d", left, main, self)
	}
}

func TestNotifierDismissesANewProgramThatTimesOut(t *testing.T) {
	needsSenderPID(t)
	self := os.Getpid()
	old := sleeper(t, 0)
	nt := newNotifierTest(t, notifyConfig{access: "main", storeMax: maxStored})
	nt.startOther(old)
	seen := len(nt.stderr.Lines())
	start := time.Now()
	// Without --timeout-start-sec, the fallback bounds the wait.
	nt.startNext(300 * time.Millisecond)
	var req stopRequest
	select {
	case req = <-nt.n.stops:
	case <-time.After(timeout):
		t.Fatalf("no stop request within %v:\n%s", timeout, strings.Join(nt.stderr.Lines(), "\n"))
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("stopped after %v, before its start timeout", elapsed)
	}
	if want := (stopRequest{pid: self, sig: syscall.SIGTERM}); req != want {
		t.Errorf("stop request %+v, want %+v: the new program, not the one that runs", req, want)
	}
	want := []string{
		"socket-activate: new program: Active: activating (start)",
		"socket-activate: new program: start operation timed out. Terminating.",
		"socket-activate: new program: Active: deactivating (stop-sigterm)",
	}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("lines:\n%s", diff(want, got))
	}
	// Given up, its messages count only for the fd store, without a
	// warning, and the program that runs is still the main process.
	nt.n.dismiss(self)
	nt.send("READY=1\nSTATUS=late\nFDSTORE=1\nFDNAME=late\nFDPOLL=0", openFD(t, os.DevNull, os.O_RDONLY))
	if got := nt.newLines(&seen); got != nil {
		t.Errorf("a message from the dismissed program:\n%s", strings.Join(got, "\n"))
	}
	if got, want := nt.stored(), []string{"late"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored fds:\n%s", diff(want, got))
	}
	nt.n.mu.Lock()
	main, next := nt.n.svc.pid, nt.n.next.pid
	nt.n.mu.Unlock()
	if main != old.Process.Pid || next != 0 {
		t.Errorf("main PID %d, new program %d; want %d, none", main, next, old.Process.Pid)
	}
}

func TestNotifierDuringASwitch(t *testing.T) {
	needsSenderPID(t)
	old, next := sleeper(t, 0), sleeper(t, 0)
	nt := newNotifierTest(t, notifyConfig{access: "all", storeMax: maxStored})
	nt.startOther(old)
	err := nt.n.handOverNext(30*time.Second, func(_ []*os.File, _, _ []string) (int, error) { return next.Process.Pid, nil })
	if err != nil {
		t.Fatal(err)
	}
	seen := len(nt.stderr.Lines())
	// This test process is a third process: which run its message is
	// about cannot be told.
	nt.send("STATUS=from a child")
	want := []string{`socket-activate: Status: "from a child"`, `socket-activate: new program: Status: "from a child"`}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("a message from another process under --notify-access=all:\n%s", diff(want, got))
	}
	// The program that runs exits before the new one is ready: the new
	// one becomes the main process, still starting.
	old.Process.Kill()
	old.Wait()
	nt.n.ended(old.ProcessState)
	nt.n.switchTo(next.Process.Pid)
	want = []string{
		"socket-activate: Active: failed (Result: signal)",
		"socket-activate: Main PID: " + strconv.Itoa(next.Process.Pid),
		"socket-activate: Active: activating (start)",
	}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("the program that ran exited first:\n%s", diff(want, got))
	}
	nt.send("READY=1")
	want = []string{"socket-activate: Active: active (running)"}
	if got := nt.newLines(&seen); !reflect.DeepEqual(got, want) {
		t.Errorf("READY=1 after the switch:\n%s", diff(want, got))
	}
}
