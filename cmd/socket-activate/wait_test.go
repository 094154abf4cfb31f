//go:build unix

package main

import (
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestAStoppedProgramThatIgnoresItsSignalIsKilled(t *testing.T) {
	defer func(d time.Duration) { notifyKillGrace = d }(notifyKillGrace)
	notifyKillGrace = 300 * time.Millisecond
	out := &syncBuffer{}
	n, err := newNotifier(out, notifyConfig{startTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	a := &activator{opts: &options{}, stderr: out, sigs: make(chan os.Signal), prog: "/bin/sh", notif: n}
	// A program (and its children) that ignores SIGTERM.
	cmd := exec.Command("sh", "-c", `trap "" TERM; while :; do sleep 0.05; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = n.handOver(func(_ []*os.File, _, _ []string) (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	end, reason := a.wait(newProgram(cmd))
	status := end.status()
	if elapsed := time.Since(start); elapsed < 500*time.Millisecond {
		t.Errorf("killed after %v, before the start timeout and the grace period, 500ms", elapsed)
	}
	if want := 128 + int(syscall.SIGKILL); status != want || reason != stopExited {
		t.Errorf("wait = %d, %d; want %d, %d", status, reason, want, stopExited)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	want := []string{
		"socket-activate: Active: activating (start)",
		"socket-activate: start operation timed out. Terminating.",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Killing process " + pid + " (sh) with signal SIGTERM.",
		"socket-activate: program still running 300ms after SIGTERM; sending SIGKILL",
		"socket-activate: Active: failed (Result: timeout)",
	}
	if got := skipAccessNote(out.Lines()); !reflect.DeepEqual(got, want) {
		t.Errorf("output:\n%s", diff(want, got))
	}
}
