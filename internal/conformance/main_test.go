// Package conformance runs servers built on package activation under the
// real systemd-socket-activate (and the inetd-style example under ucspi-tcp's
// tcpserver too) and checks, from the client side, that they get the
// sockets, names and environment the activator passes.
//
// The servers are built once, in TestMain: the probe in testdata/probe,
// which answers every connection or datagram with a report of what it
// inherited, and the programs in examples/.
package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// activator is the reference manager the suite runs servers under.
const activator = "/usr/bin/systemd-socket-activate"

// timeout bounds every wait of the suite.
const timeout = 20 * time.Second

// The programs TestMain builds, by name in bin.
var programs = map[string]string{
	"probe":       "github.com/go-activation/activation/internal/conformance/testdata/probe",
	"http":        "github.com/go-activation/activation/examples/http",
	"udp-echo":    "github.com/go-activation/activation/examples/udp-echo",
	"accept-echo": "github.com/go-activation/activation/examples/accept-echo",
	"inetd-echo":  "github.com/go-activation/activation/examples/inetd-echo",
}

var (
	bin      string // the directory holding the built programs
	missing  string // why the suite cannot run here, or ""
	notLinux bool   // missing because this is not Linux: no CI can help that
	passed   atomic.Int64
	total    atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	switch {
	case runtime.GOOS != "linux":
		missing = "systemd-socket-activate exists only on Linux, and this is " + runtime.GOOS
		notLinux = true
	default:
		if _, err := os.Stat(activator); err != nil {
			missing = activator + " is missing (Debian and Ubuntu ship it in the systemd package)"
		}
	}
	if missing == "" {
		dir, err := os.MkdirTemp("", "conformance-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = dir
		if err := build(dir); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			return 1
		}
	}
	code := m.Run()
	if missing != "" {
		fmt.Printf("conformance: not run: %s\n", missing)
	} else {
		fmt.Printf("conformance: %d of %d cases passed under %s and %s\n", passed.Load(), total.Load(), activator, tcpserver)
	}
	return code
}

// build builds every program into dir with one go build.
func build(dir string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the servers: %w", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, pkg := range programs {
		args = append(args, pkg)
	}
	out, err := exec.Command(goTool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// requireActivator stops the test when the suite cannot run here: on
// Linux it fails when CI is set, where a missing activator must not pass
// unseen, and skips otherwise. It also counts the test as a case of the
// summary.
func requireActivator(t *testing.T) {
	t.Helper()
	if missing != "" {
		if os.Getenv("CI") != "" && !notLinux {
			t.Fatalf("CI is set and %s", missing)
		}
		t.Skip(missing)
	}
	total.Add(1)
	t.Cleanup(func() {
		if !t.Failed() {
			passed.Add(1)
		}
	})
}

// requireTool stops the test when the tool at path, from the Debian
// package pkg, is missing: it fails when CI is set, where .ci/run installs
// it, and skips otherwise. The suite must be able to run here too
// (requireActivator).
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is missing (Debian package %s)", path, pkg)
		}
		t.Skipf("%s is missing (Debian package %s)", path, pkg)
	}
}

// program returns the path of a program TestMain built.
func program(name string) string {
	return filepath.Join(bin, name)
}

// logBuffer collects a process's output and wakes waiters on each write.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on each write
}

func newLogBuffer() *logBuffer {
	return &logBuffer{changed: make(chan struct{})}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

// snapshot returns what was written so far and a channel closed on the
// next write.
func (b *logBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

// waitFor waits until ok accepts the output, the process exits or the
// timeout passes, and reports whether ok accepted it.
func (b *logBuffer) waitFor(ok func(string) bool, exited <-chan struct{}) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s, changed := b.snapshot()
		if ok(s) {
			return true
		}
		select {
		case <-changed:
		case <-exited:
			s, _ := b.snapshot()
			return ok(s)
		case <-deadline.C:
			return false
		}
	}
}

// errAddrInUse says the activator could not bind a port the test picked:
// another process took it meanwhile, and the test picks again.
var errAddrInUse = errors.New("address already in use")

// running is an activator started by a test, and the server it became.
type running struct {
	cmd    *exec.Cmd
	out    *logBuffer
	exited chan struct{} // closed when cmd has been waited for
	err    error         // cmd.Wait's result, once exited is closed
}

// start runs the activator with args until it listens on all of its
// sockets. A cleanup kills it (and, unless it forked, the server it became)
// and logs its output.
func start(t *testing.T, args []string, env []string) (*running, error) {
	t.Helper()
	r := &running{out: newLogBuffer(), exited: make(chan struct{})}
	r.cmd = exec.Command(activator, args...)
	r.cmd.Env = env
	r.cmd.Stdout = r.out
	r.cmd.Stderr = r.out
	r.cmd.WaitDelay = timeout // accept-mode children may hold the pipe
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.exited
		s, _ := r.out.snapshot()
		t.Logf("%s %s:\n%s", activator, strings.Join(args, " "), s)
	})

	listens := 0
	for _, a := range args {
		if a == "-l" {
			listens++
		}
	}
	if !r.out.waitFor(func(s string) bool { return strings.Count(s, "Listening on ") == listens }, r.exited) {
		s, _ := r.out.snapshot()
		if strings.Contains(s, "Address already in use") {
			return nil, errAddrInUse
		}
		status := "still running"
		select {
		case <-r.exited:
			status = fmt.Sprint(r.err)
		default:
		}
		return nil, fmt.Errorf("%s did not listen on its %d sockets (%s):\n%s", activator, listens, status, s)
	}
	return r, nil
}

// wait waits for the activator, which exec'ed into the server, to exit,
// and returns its error.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.exited:
		return r.err
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %v", r.cmd.Path, timeout)
		return nil
	}
}

// environ is the activator's environment: this process's, without
// LISTEN_* variables, which it would pass through.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
