package restarttest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// ActivatorConfig says how to run socket-activate and how to recognize the
// programs it starts.
type ActivatorConfig struct {
	// Path is socket-activate's path, from BuildActivator.
	Path string
	// Args are its arguments, ending with the program and the program's.
	Args []string
	// Env, if not nil, is its environment; nil means the test's.
	Env []string
	// Program is the program's path as socket-activate runs it: the
	// cleanup kills a program left running only if it still has this
	// argv[0], since a pid that exited may be in use again.
	Program string
	// PIDLine is a regular expression matching the line each program
	// writes when it starts, with its pid as the first submatch.
	PIDLine string
	// Timeout bounds every wait: for a line, for an exit.
	Timeout time.Duration
}

// Activator is a socket-activate process run by a test.
type Activator struct {
	// Cmd is the process.
	Cmd *exec.Cmd
	// Output holds what socket-activate and its programs write to
	// standard output and standard error, in one stream.
	Output *Lines

	config ActivatorConfig
	done   chan struct{} // closed once it exited and was reaped
}

// StartActivator runs socket-activate as c says. The test's cleanup stops
// it with SIGTERM, or SIGKILL after c.Timeout, kills the process group of
// the last program it started if that one is still running, checks that
// the output ended and logs it if the test failed.
func StartActivator(t testing.TB, c ActivatorConfig) *Activator {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	a := &Activator{Cmd: cmd, Output: NewLines(r, c.Timeout), config: c, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.stop()
		// Socket-activate stops each program before it starts the next,
		// so only the last one can be left behind, if socket-activate
		// died.
		if m := a.Output.Matches(c.PIDLine); len(m) > 0 && len(m[len(m)-1]) > 1 {
			if pid, err := strconv.Atoi(m[len(m)-1][1]); err == nil {
				killGroup(pid, c.Program)
			}
		}
		if err := a.Output.WaitEOF(); err != nil {
			t.Errorf("socket-activate's output: %v", err)
		}
		r.Close()
		if t.Failed() {
			t.Logf("socket-activate's output:\n%s", a.Output.Text())
		}
	})
	return a
}

// stop ends socket-activate, gently first, and reaps it.
func (a *Activator) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	a.Cmd.Process.Signal(terminate)
	select {
	case <-a.done:
	case <-time.After(a.config.Timeout):
		a.Cmd.Process.Kill()
		<-a.done
	}
}

// Signal sends sig to socket-activate: SIGHUP restarts the program under
// --restart, SIGTERM stops it.
func (a *Activator) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := a.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// ExitCode waits for socket-activate to exit and returns its status.
func (a *Activator) ExitCode(t testing.TB) int {
	t.Helper()
	select {
	case <-a.done:
		return a.Cmd.ProcessState.ExitCode()
	case <-time.After(a.config.Timeout):
		t.Fatalf("socket-activate still running after %v", a.config.Timeout)
		return -1
	}
}

// PIDs waits until n programs have started and returns their pids, read
// from the lines matching PIDLine.
func (a *Activator) PIDs(t testing.TB, n int) []int {
	t.Helper()
	var pids []int
	for _, m := range a.Output.Wait(t, a.config.PIDLine, n) {
		if len(m) < 2 {
			t.Fatalf("restarttest: PIDLine %q has no submatch for the pid", a.config.PIDLine)
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("restarttest: pid %q: %v", m[1], err)
		}
		pids = append(pids, pid)
	}
	return pids
}
