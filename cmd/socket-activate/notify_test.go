//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

// These tests run socket-activate --notify as the manager of programs
// that use this project's notify package (the "notify-script" helper), of
// shell scripts, and of clients this project did not write: Debian's
// systemd-notify and python-systemd.

// ownLines returns socket-activate's own lines on stderr (the program
// writes there too): those it starts with "socket-activate: ", and the
// "Execing" line that says, in systemd-socket-activate's words, that it
// starts the program. The words in names are replaced: a pid by a name
// for it, the test binary's path by PROG.
func ownLines(t *testing.T, p *proc, names map[string]string) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(p.stderr.Text(), "\n") {
		if !strings.HasPrefix(l, "socket-activate: ") && !strings.HasPrefix(l, "Execing ") {
			continue
		}
		l = strings.ReplaceAll(l, exe, "PROG")
		for word, name := range names {
			l = regexp.MustCompile(`\b`+regexp.QuoteMeta(word)+`\b`).ReplaceAllString(l, name)
		}
		lines = append(lines, l)
	}
	return lines
}

// checkLines compares socket-activate's own lines with want, once it
// exited.
func checkLines(t *testing.T, p *proc, names map[string]string, want []string) {
	t.Helper()
	waitEOF(t, p.stderr)
	if got := ownLines(t, p, names); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("socket-activate's lines (-want +got):\n%s", restarttest.Diff(want, got))
	}
}

// killedPID waits for socket-activate's "Killing process" line and
// returns the pid it names.
func killedPID(t *testing.T, p *proc) string {
	t.Helper()
	return p.stderr.Wait(t, `^socket-activate: Killing process (\d+) `, 1)[0][1]
}

// scriptArgs returns the arguments that run the notify-script helper with
// script, or with one script per run (SA_TEST_SCRIPT_1, …) counted in a
// state file.
func scriptArgs(t *testing.T, scripts ...string) []string {
	args := []string{"-E", "GOTRACEBACK=none"}
	if len(scripts) == 1 {
		args = append(args, "-E", scriptEnv+"="+scripts[0])
	} else {
		args = append(args, "-E", stateEnv+"="+filepath.Join(t.TempDir(), "runs"))
		for i, s := range scripts {
			args = append(args, "-E", fmt.Sprintf("%s_%d=%s", scriptEnv, i+1, s))
		}
	}
	return append(args, helperArgs(t, "notify-script")...)
}

// helperName is the name of the helper programs, the test binary's, as
// socket-activate's "Killing process" lines show it.
func helperName(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(exe)
}

func TestNotifyPackageStatesShowAsSystemctlStatus(t *testing.T) {
	p := startProc(t, append([]string{"--notify", "--now"}, scriptArgs(t, "ready;status:serving;reloading;ready;errno:2;stopping;say:done")...)...)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	checkLines(t, p, nil, []string{
		"socket-activate: Active: activating (start)",
		"Execing PROG (PROG)",
		"socket-activate: Active: active (running)",
		`socket-activate: Status: "serving"`,
		"socket-activate: Active: reloading (reload)",
		"socket-activate: Active: active (running)",
		"socket-activate: Error: 2 (No such file or directory)",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Active: inactive (dead)",
	})
}

func TestStartTimeoutStopsAProgramThatNeverBecomesReady(t *testing.T) {
	script := `trap "exit 0" TERM; while :; do sleep 0.05; done`
	start := time.Now()
	p := startProc(t, "--notify", "--now", "--timeout-start-sec=500ms", "sh", "-c", script)
	code := p.exitCode(t)
	if elapsed := time.Since(start); elapsed < 500*time.Millisecond {
		t.Errorf("stopped after %v, before the start timeout of 500ms", elapsed)
	}
	if code != 1 {
		t.Errorf("exit status %d, want 1: the program exited 0 on SIGTERM, but its start failed", code)
	}
	checkLines(t, p, map[string]string{killedPID(t, p): "PID"}, []string{
		"socket-activate: Active: activating (start)",
		"Execing sh (sh -c " + script + ")",
		"socket-activate: start operation timed out. Terminating.",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Killing process PID (sh) with signal SIGTERM.",
		"socket-activate: Active: failed (Result: timeout)",
	})
}

func TestStartTimeoutWithRestartStartsAgain(t *testing.T) {
	script := `trap "exit 0" TERM; echo started; while :; do sleep 0.05; done`
	p := startProc(t, "--notify", "--now", "--restart", "--timeout-start-sec=500ms", "sh", "-c", script)
	pid := killedPID(t, p)
	p.stderr.Wait(t, `^socket-activate: restarting \(restart 1\): `, 1)
	p.stdout.Wait(t, "^started$", 2)
	p.signal(t, syscall.SIGTERM)
	p.exitCode(t)
	waitEOF(t, p.stderr)
	// The failed run exits 1 (its 0 on SIGTERM does not count) and is
	// restarted, a second later if it lasted less than one, as any quick
	// failure is.
	exited := regexp.MustCompile(`^socket-activate: program exited with status 1(; restarting it| within 1s; restarting it in 1s)$`)
	got := ownLines(t, p, map[string]string{pid: "PID"})
	for i, l := range got {
		if exited.MatchString(l) {
			got[i] = "socket-activate: program exited with status 1; restarting it (now or in 1s)"
		}
	}
	want := []string{
		"socket-activate: Active: activating (start)",
		"Execing sh (sh -c " + script + ")",
		"socket-activate: start operation timed out. Terminating.",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Killing process PID (sh) with signal SIGTERM.",
		"socket-activate: Active: failed (Result: timeout)",
		"socket-activate: program exited with status 1; restarting it (now or in 1s)",
		"socket-activate: Active: activating (start)",
		"socket-activate: restarting (restart 1): sh -c " + strconv.Quote(script),
		"Execing sh (sh -c " + script + ")",
	}
	if len(got) < len(want) || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("socket-activate's lines (-want +got):\n%s", restarttest.Diff(want, got))
	}
}

func TestExtendTimeoutPostponesTheStartTimeout(t *testing.T) {
	t.Run("a program that asks for more time and becomes ready is not stopped", func(t *testing.T) {
		p := startProc(t, append([]string{"--notify", "--now", "--timeout-start-sec=1s"}, scriptArgs(t, "extend:4s;sleep:1500ms;ready;say:ready;block")...)...)
		p.stdout.Wait(t, "^ready$", 1)
		p.stderr.Wait(t, `^socket-activate: Active: active \(running\)$`, 1)
		p.signal(t, syscall.SIGTERM)
		if code := p.exitCode(t); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		waitEOF(t, p.stderr)
		if strings.Contains(p.stderr.Text(), "timed out") {
			t.Errorf("the start timed out although the program extended it:\n%s", p.stderr.Text())
		}
	})
	t.Run("the extension runs out too", func(t *testing.T) {
		start := time.Now()
		p := startProc(t, append([]string{"--notify", "--now", "--timeout-start-sec=1s"}, scriptArgs(t, "extend:2s;block")...)...)
		p.stderr.Wait(t, `^socket-activate: start operation timed out\. Terminating\.$`, 1)
		if elapsed := time.Since(start); elapsed < 2*time.Second {
			t.Errorf("timed out after %v, before the extension of 2s ran out", elapsed)
		}
		if code := p.exitCode(t); code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
	})
}

func TestWatchdogLoopKeepsTheProgramAlive(t *testing.T) {
	p := startProc(t, append([]string{"--notify", "--now", "--watchdog-sec=1s"}, scriptArgs(t, "env;ready;watchdog:2500ms;say:done")...)...)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	waitEOF(t, p.stdout)
	if got, want := p.stdout.Text(), "run 1: pid=self WATCHDOG_PID=self WATCHDOG_USEC=1000000\ndone"; got != want {
		t.Errorf("the program said\n%s\nwant\n%s", got, want)
	}
	checkLines(t, p, nil, []string{
		"socket-activate: Active: activating (start)",
		"Execing PROG (PROG)",
		"socket-activate: Active: active (running)",
		"socket-activate: Active: inactive (dead)",
	})
}

func TestWatchdogAbortsAProgramThatStopsPingingAndRestartsIt(t *testing.T) {
	p := startProc(t, append([]string{"--notify", "--now", "--restart", "--watchdog-sec=500ms"}, scriptArgs(t,
		"env;ready;watchdog:700ms;say:no more pings;block",
		"env;ready;watchdog;say:run 2 running;block")...)...)
	p.stdout.Wait(t, "^run 2 running$", 1)
	p.stderr.Wait(t, `^socket-activate: Active: active \(running\)$`, 2)
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	waitEOF(t, p.stdout)
	wantOut := []string{
		"run 1: pid=self WATCHDOG_PID=self WATCHDOG_USEC=500000",
		"no more pings",
		"got SIGABRT",
		"run 2: pid=self WATCHDOG_PID=self WATCHDOG_USEC=500000",
		"run 2 running",
	}
	if got := strings.Split(p.stdout.Text(), "\n"); strings.Join(got, "\n") != strings.Join(wantOut, "\n") {
		t.Errorf("the program said (-want +got):\n%s", restarttest.Diff(wantOut, got))
	}
	checkLines(t, p, map[string]string{killedPID(t, p): "PID"}, []string{
		"socket-activate: Active: activating (start)",
		"Execing PROG (PROG)",
		"socket-activate: Active: active (running)",
		"socket-activate: Watchdog timeout (limit 500ms)!",
		"socket-activate: Active: deactivating (stop-watchdog)",
		"socket-activate: Killing process PID (" + helperName(t) + ") with signal SIGABRT.",
		"socket-activate: Active: failed (Result: watchdog)",
		"socket-activate: program exited with status 134; restarting it",
		"socket-activate: Active: activating (start)",
		"socket-activate: restarting (restart 1): PROG",
		"Execing PROG (PROG)",
		"socket-activate: Active: active (running)",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Active: inactive (dead)",
	})
}

func TestWatchdogFires(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		script string
		why    string
	}{{
		name:   "WATCHDOG=trigger aborts at once",
		args:   []string{"--watchdog-sec=1min"},
		script: "ready;status:all bad;trigger;block",
		why:    "Watchdog request (last status: all bad)!",
	}, {
		name:   "WATCHDOG=trigger aborts without a watchdog",
		script: "ready;trigger;block",
		why:    "Watchdog request (last status: <unset>)!",
	}, {
		name:   "WATCHDOG_USEC= shortens the watchdog",
		args:   []string{"--watchdog-sec=1min"},
		script: `ready;send:WATCHDOG_USEC=300000;block`,
		why:    "Watchdog timeout (limit 300ms)!",
	}, {
		name:   "WATCHDOG_USEC= turns the watchdog on",
		script: `ready;send:WATCHDOG_USEC=300000;block`,
		why:    "Watchdog timeout (limit 300ms)!",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--notify", "--now"}, tt.args...), scriptArgs(t, tt.script)...)
			p := startProc(t, args...)
			if code := p.exitCode(t); code != 134 {
				t.Errorf("exit status %d, want 134, the program's on SIGABRT", code)
			}
			pid := killedPID(t, p)
			waitEOF(t, p.stderr)
			lines := ownLines(t, p, map[string]string{pid: "PID"})
			want := []string{
				"socket-activate: " + tt.why,
				"socket-activate: Active: deactivating (stop-watchdog)",
				"socket-activate: Killing process PID (" + helperName(t) + ") with signal SIGABRT.",
				"socket-activate: Active: failed (Result: watchdog)",
			}
			if got := lines[len(lines)-len(want):]; strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("socket-activate's last lines (-want +got):\n%s", restarttest.Diff(want, got))
			}
		})
	}
}

func TestNotifyAccessDecidesWhoMayNotify(t *testing.T) {
	needsSenderPID(t)
	tests := []struct {
		name    string
		access  []string
		script  string
		refused bool // the child's READY=1
		active  bool // the program became active
	}{
		{"by default only the main process may notify", nil, "child:READY=1;say:waiting;block", true, false},
		{"main refuses a child's READY=1", []string{"--notify-access=main"}, "child:READY=1;say:waiting;block", true, false},
		{"exec refuses it as main does: there are no control processes", []string{"--notify-access=exec"}, "child:READY=1;say:waiting;block", true, false},
		{"all accepts a child's READY=1", []string{"--notify-access=all"}, "child:READY=1;say:waiting;block", false, true},
		{"main accepts the main process after refusing its child", nil, "child:READY=1;ready;say:waiting;block", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--notify", "--now"}, tt.access...), scriptArgs(t, tt.script)...)
			p := startProc(t, args...)
			m := p.stdout.Wait(t, `^child (\d+) of (\d+) sent READY=1$`, 1)[0]
			child, main := m[1], m[2]
			p.stdout.Wait(t, "^waiting$", 1)
			refusal := fmt.Sprintf("socket-activate: warning: Got notification message from PID %s, but reception only permitted for main PID %s", child, main)
			if tt.refused {
				p.stderr.Wait(t, "^"+regexp.QuoteMeta(refusal)+"$", 1)
			}
			if tt.active {
				p.stderr.Wait(t, `^socket-activate: Active: active \(running\)$`, 1)
			}
			p.signal(t, syscall.SIGTERM)
			p.exitCode(t)
			waitEOF(t, p.stderr)
			text := p.stderr.Text()
			if got := strings.Contains(text, refusal); got != tt.refused {
				t.Errorf("the child's READY=1 refused: %v, want %v", got, tt.refused)
			}
			if got := strings.Contains(text, "Active: active (running)"); got != tt.active {
				t.Errorf("the program became active: %v, want %v", got, tt.active)
			}
		})
	}
}

func TestBarrierIsAnsweredWithoutAWarning(t *testing.T) {
	p := startProc(t, append([]string{"--notify", "--now"}, scriptArgs(t, "ready;barrier;say:after barrier")...)...)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	waitEOF(t, p.stdout)
	if got, want := p.stdout.Text(), "barrier: <nil>\nafter barrier"; got != want {
		t.Errorf("the program said\n%s\nwant\n%s", got, want)
	}
	waitEOF(t, p.stderr)
	if strings.Contains(p.stderr.Text(), "warning") {
		t.Errorf("a barrier gave a warning:\n%s", p.stderr.Text())
	}
}

// lookTool finds a tool the test needs, skipping the test without it,
// except under CI, where a missing tool fails.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (Debian package %s) is needed under CI: %v", name, pkg, err)
		}
		t.Skipf("%s (Debian package %s) is not installed", name, pkg)
	}
	return path
}

func TestSystemdNotifyIsUnderstood(t *testing.T) {
	lookTool(t, "systemd-notify", "systemd")
	needsSenderPID(t)
	// systemd-notify, run from a shell script, is the script's child. Run
	// by root, it sends as its parent (the kernel lets root name any pid
	// in SCM_CREDENTIALS), so that NotifyAccess=main accepts it; run by
	// anyone else it sends as itself, and main refuses it. systemd treats
	// it the same way.
	root := os.Geteuid() == 0
	tests := []struct {
		name    string
		args    []string
		script  string
		want    []string // lines socket-activate prints, in order, among others
		refused bool
	}{{
		name:   "--ready and --status under --notify-access=all",
		args:   []string{"--notify-access=all"},
		script: `systemd-notify --ready --status="up and running" && echo notified; exec sleep 60`,
		want:   []string{"socket-activate: Active: active (running)", `socket-activate: Status: "up and running"`},
	}, {
		name:   "--pid names the main process",
		args:   []string{"--notify-access=all"},
		script: `sleep 60 & echo "background $!"; systemd-notify --pid=$! --status=forked && echo notified; wait`,
		want:   []string{"socket-activate: Main PID: BACKGROUND", `socket-activate: Status: "forked"`},
	}, {
		name:    "--ready under the default access",
		script:  `systemd-notify --ready && echo notified; exec sleep 60`,
		want:    []string{"socket-activate: Active: active (running)"},
		refused: !root,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--notify", "--now"}, tt.args...), "sh", "-c", tt.script)
			p := startProc(t, args...)
			p.stdout.Wait(t, "^notified$", 1)
			pids := map[string]string{}
			if m := p.stdout.Matches(`^background (\d+)$`); m != nil {
				pids[m[0][1]] = "BACKGROUND"
			}
			if tt.refused {
				p.stderr.Wait(t, `^socket-activate: warning: Got notification message from PID \d+, but reception only permitted for main PID \d+$`, 1)
			} else {
				p.stderr.Wait(t, "^"+regexp.QuoteMeta(strings.ReplaceAll(tt.want[len(tt.want)-1], "BACKGROUND", `\d+`))+"$", 1)
			}
			p.signal(t, syscall.SIGTERM)
			p.exitCode(t)
			waitEOF(t, p.stderr)
			got := ownLines(t, p, pids)
			if tt.refused {
				for _, l := range got {
					if strings.HasPrefix(l, "socket-activate: Active: active") {
						t.Errorf("systemd-notify, run by uid %d, was refused and yet: %s", os.Geteuid(), l)
					}
				}
				return
			}
			for _, l := range got {
				if strings.Contains(l, "warning") {
					t.Errorf("systemd-notify gave a warning: %s", l)
				}
			}
			if !containsInOrder(got, tt.want) {
				t.Errorf("socket-activate's lines lack, in this order,\n%s\nin\n%s", strings.Join(tt.want, "\n"), strings.Join(got, "\n"))
			}
		})
	}
}

// containsInOrder reports whether lines holds want's lines in their order.
func containsInOrder(lines, want []string) bool {
	for _, l := range lines {
		if len(want) > 0 && l == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// pythonWithSystemd returns a python3 that has python-systemd's daemon
// module.
func pythonWithSystemd(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import systemd.daemon").Run() == nil {
			return path
		}
		tried = append(tried, path)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python3 with python-systemd (Debian package python3-systemd) is needed under CI; tried %q", tried)
	}
	t.Skipf("no python3 with python-systemd (Debian package python3-systemd); tried %q", tried)
	return ""
}

func TestPythonSystemdDaemonNotifyIsUnderstood(t *testing.T) {
	python := pythonWithSystemd(t)
	needsSenderPID(t)
	// Run 1 stores a pipe holding data and exits; run 2 reads it back.
	script := `
import os, sys, time
from systemd import daemon
if "LISTEN_FDS" not in os.environ:
    r, w = os.pipe()
    os.write(w, b"from python")
    os.close(w)
    daemon.notify("FDSTORE=1\nFDNAME=py\nFDPOLL=0", fds=[r])
    daemon.notify("READY=1\nSTATUS=python run 1")
    print("run 1 stored a pipe", flush=True)
    sys.exit(0)
data = os.read(3, 64).decode()
print("run 2: LISTEN_FDS=%s LISTEN_FDNAMES=%s fd 3 holds %s" % (os.environ["LISTEN_FDS"], os.environ["LISTEN_FDNAMES"], data), flush=True)
daemon.notify("READY=1\nSTATUS=python run 2")
time.sleep(60)
`
	p := startProc(t, "--notify", "--now", "--restart", python, "-c", script)
	p.stdout.Wait(t, "^run 2: ", 1)
	p.stderr.Wait(t, `^socket-activate: Status: "python run 2"$`, 1)
	p.signal(t, syscall.SIGTERM)
	p.exitCode(t)
	waitEOF(t, p.stdout)
	if got, want := p.stdout.Text(), "run 1 stored a pipe\nrun 2: LISTEN_FDS=1 LISTEN_FDNAMES=py fd 3 holds from python"; got != want {
		t.Errorf("the program said\n%s\nwant\n%s", got, want)
	}
	waitEOF(t, p.stderr)
	got := ownLines(t, p, nil)
	want := []string{
		"socket-activate: Active: activating (start)",
		"socket-activate: Active: active (running)",
		`socket-activate: Status: "python run 1"`,
		"socket-activate: Active: inactive (dead)",
		"socket-activate: Active: activating (start)",
		"socket-activate: Active: active (running)",
		`socket-activate: Status: "python run 2"`,
	}
	if !containsInOrder(got, want) {
		t.Errorf("socket-activate's lines lack, in this order,\n%s\nin\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	for _, l := range got {
		if strings.Contains(l, "warning") {
			t.Errorf("python-systemd's messages gave a warning: %s", l)
		}
	}
}
