//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// listenerSet is N listening TCP sockets on 127.0.0.1 with kernel-chosen
// ports, made with raw system calls so that they are blocking, as a service
// manager passes them. The set stays open in the parent and is passed to
// each child as fds 3…; resetBlocking undoes what a child's package did to
// the shared open file descriptions (O_NONBLOCK).
type listenerSet struct {
	files []*os.File
	fds   []int
}

func newListenerSet(n int) (*listenerSet, error) {
	s := &listenerSet{}
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			s.close()
			return nil, os.NewSyscallError("socket", err)
		}
		f := os.NewFile(uintptr(fd), "listener")
		s.files, s.fds = append(s.files, f), append(s.fds, fd)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			s.close()
			return nil, os.NewSyscallError("bind", err)
		}
		if err := syscall.Listen(fd, 4096); err != nil {
			s.close()
			return nil, os.NewSyscallError("listen", err)
		}
	}
	return s, nil
}

func (s *listenerSet) resetBlocking() error {
	for _, fd := range s.fds {
		if err := syscall.SetNonblock(fd, false); err != nil {
			return os.NewSyscallError("fcntl", err)
		}
	}
	return nil
}

func (s *listenerSet) close() {
	for _, f := range s.files {
		f.Close()
	}
	s.files, s.fds = nil, nil
}

// childEnv is this process's environment without any LISTEN_* variable,
// plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// outcome is how a child process ended.
type outcome struct {
	stdout, stderr []byte
	wall           time.Duration
	timedOut       bool
	err            error // non-nil when the child failed or timed out
}

// runProcess runs argv with fds 3… taken from extra and env, kills it after
// timeout, and reports how it ended.
func runProcess(argv []string, extra []*os.File, env []string, timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.ExtraFiles, cmd.Env = extra, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	o := outcome{stdout: stdout.Bytes(), stderr: stderr.Bytes(), wall: time.Since(start), err: err}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.timedOut = true
		o.err = fmt.Errorf("report: %s: killed after %v", argv[0], timeout)
	} else if err != nil {
		o.err = fmt.Errorf("report: %q: %w: %s", argv, err, firstLine(stderr.Bytes()))
	}
	return o
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	return string(line)
}
