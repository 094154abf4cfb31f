//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// settle is how long the files must stay unchanged after a change before
// a build starts: an editor, a formatter or a checkout writes several
// files, or one several times.
const settle = 100 * time.Millisecond

// A builder runs --build after each change under --watch, one build at a
// time, while the program that runs keeps serving, and hands the activator
// the outcome. Changes that come during a build make one more build once
// it ends, whose outcome is the one handed over.
type builder struct {
	command string // for sh -c; "" builds nothing
	w       watcher
	stderr  io.Writer
	results chan bool   // holds the latest outcome not taken: whether it built
	trigger chan string // asks for a build without a change, saying why
	stop    chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	stopped bool
	proc    *os.Process // the build running, if any
}

// newBuilder starts handing over builds after changes w reports.
func newBuilder(command string, w watcher, stderr io.Writer) *builder {
	b := &builder{command: command, w: w, stderr: stderr, results: make(chan bool, 1),
		trigger: make(chan string, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// request asks for a build, saying why, as if files had changed.
func (b *builder) request(why string) {
	select {
	case b.trigger <- why:
	default: // one is asked for already
	}
}

func (b *builder) loop() {
	defer close(b.done)
	for {
		var why string
		select {
		case c := <-b.w.Changes():
			why = "changed: " + c.String()
		case why = <-b.trigger:
		case <-b.stop:
			return
		}
		for {
			if !b.settle() {
				return
			}
			ok := b.build(why)
			select {
			case c := <-b.w.Changes():
				// What was built is already out of date.
				why = "changed during the build: " + c.String()
				continue
			default:
			}
			b.deliver(ok)
			break
		}
	}
}

// settle waits until no change has come for the settle time, and reports
// false if the builder is stopped meanwhile.
func (b *builder) settle() bool {
	t := time.NewTimer(settle)
	defer t.Stop()
	for {
		select {
		case <-b.w.Changes():
			t.Reset(settle)
		case <-t.C:
			return true
		case <-b.stop:
			return false
		}
	}
}

// build runs the command once and reports whether it succeeded, printing
// its output and how it went.
func (b *builder) build(why string) bool {
	if b.command == "" {
		fmt.Fprintf(b.stderr, "socket-activate: %s\n", why)
		return true
	}
	fmt.Fprintf(b.stderr, "socket-activate: %s; building: %s\n", why, b.command)
	out, took, err := b.runCommand()
	b.stderr.Write(out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		fmt.Fprintln(b.stderr)
	}
	took = took.Round(time.Millisecond)
	if err != nil {
		fmt.Fprintf(b.stderr, "socket-activate: build failed (%v) after %v\n", err, took)
		return false
	}
	fmt.Fprintf(b.stderr, "socket-activate: build succeeded in %v\n", took)
	return true
}

// runCommand runs the command in a process group of its own, so that
// stopping the builder stops everything it started, with its output
// collected and no stdin.
func (b *builder) runCommand() (out []byte, took time.Duration, err error) {
	var buf bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", b.command)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, 0, errors.New("stopped")
	}
	err = cmd.Start()
	if err == nil {
		b.proc = cmd.Process
	}
	b.mu.Unlock()
	if err == nil {
		err = cmd.Wait()
		b.mu.Lock()
		b.proc = nil
		b.mu.Unlock()
	}
	return buf.Bytes(), time.Since(start), err
}

// deliver hands the outcome over, in place of one not taken yet.
func (b *builder) deliver(ok bool) {
	select {
	case <-b.results:
	default:
	}
	b.results <- ok // deliver is the only sender, and took what was there
}

// close stops the builder and kills the build running, if any.
func (b *builder) close() {
	b.mu.Lock()
	b.stopped = true
	if b.proc != nil {
		unix.Kill(-b.proc.Pid, syscall.SIGKILL)
	}
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.w.Close()
}
