//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const socketActivate = "/usr/bin/systemd-socket-activate"

// The cold-start servers, built from ./coldstart/NAME.
var coldServers = []string{"ours", "gosd", "plain"}

// The cold-start measurements: the three servers, the plain one started
// two ways.
var coldRuns = []string{"ours", "gosd", "plain-triggered", "plain-direct"}

// retryInterval is the pause between refused dials of the plain server
// (-retry).
var retryInterval = 50 * time.Microsecond

type coldStats struct {
	// first-response times by server
	times map[string][]time.Duration
	// for the plain runs: time between the last refused dial and the dial
	// that connected, the uncertainty the retry loop adds
	pollGap map[string][]time.Duration
}

const (
	coldDeadline = 10 * time.Second // one start, first attempt to first byte
	request      = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
)

func measureColdStart(cfg config) (*coldStats, error) {
	if _, err := os.Stat(socketActivate); err != nil {
		return nil, fmt.Errorf("report: coldstart section needs %s: %w", socketActivate, err)
	}
	dir, err := os.MkdirTemp("", "activation-bench-cold-")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer os.RemoveAll(dir)
	bins := map[string]string{}
	for _, name := range coldServers {
		bins[name] = filepath.Join(dir, name)
		build := exec.Command("go", "build", "-o", bins[name], "./coldstart/"+name)
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("report: building ./coldstart/%s (run the report from the bench directory): %w\n%s", name, err, out)
		}
	}
	st := &coldStats{times: map[string][]time.Duration{}, pollGap: map[string][]time.Duration{}}
	for i := range cfg.starts {
		// Rotate the order so that no server always runs first.
		for j := range coldRuns {
			name := coldRuns[(i+j)%len(coldRuns)]
			var d, gap time.Duration
			var err error
			switch name {
			case "plain-triggered":
				d, gap, err = coldPlainTriggered(bins["plain"])
				st.pollGap[name] = append(st.pollGap[name], gap)
			case "plain-direct":
				d, gap, err = coldPlain(bins["plain"])
				st.pollGap[name] = append(st.pollGap[name], gap)
			default:
				d, err = coldActivated(bins[name])
			}
			if err != nil {
				return nil, fmt.Errorf("report: cold start of %s: %w", name, err)
			}
			st.times[name] = append(st.times[name], d)
		}
	}
	return st, nil
}

// freePort returns a port on 127.0.0.1 that the kernel just handed out and
// that is free again. systemd-socket-activate and the plain server need a
// port number before they start.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// firstByte sends a request on c and waits for the first byte of the
// response, which must start "HTTP/1.1 200".
func firstByte(c net.Conn, deadline time.Time) error {
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(c, request); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	return nil
}

// checkRest reads the rest of the status line after the first byte.
func checkRest(c net.Conn) error {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix("H"+line, "HTTP/1.1 200") {
		return fmt.Errorf("status line %q", "H"+line)
	}
	return nil
}

// startActivator starts argv under systemd-socket-activate listening on
// addr, and returns once the activator listens. The caller kills it.
func startActivator(addr string, argv ...string) (*exec.Cmd, error) {
	cmd := exec.Command(socketActivate, append([]string{"-l", addr}, argv...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	listening := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var lines []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Listening on") {
				listening <- nil
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			lines = append(lines, sc.Text())
		}
		listening <- fmt.Errorf("%s exited before listening: %q", socketActivate, lines)
	}()
	select {
	case err = <-listening:
	case <-time.After(coldDeadline):
		err = fmt.Errorf("%s not listening after %v", socketActivate, coldDeadline)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	return cmd, nil
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// coldActivated starts the server under systemd-socket-activate, waits until
// the activator listens, then times one connection from connect() to the
// first response byte. The activator execs the server only when that
// connection arrives.
func coldActivated(bin string) (time.Duration, error) {
	addr, err := freePort()
	if err != nil {
		return 0, err
	}
	cmd, err := startActivator(addr, bin)
	if err != nil {
		return 0, err
	}
	defer stop(cmd)
	start := time.Now()
	deadline := start.Add(coldDeadline)
	c, err := net.DialTimeout("tcp", addr, coldDeadline)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := firstByte(c, deadline); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkRest(c)
}

// coldPlainTriggered starts the plain server the way the activated ones
// start: systemd-socket-activate listens on a second port and execs the
// plain server when a trigger connection arrives there (the server ignores
// that socket). The clock starts at the trigger connection; then the plain
// server's own port is dialled in the retry loop.
func coldPlainTriggered(bin string) (d, gap time.Duration, err error) {
	trigger, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	addr, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	cmd, err := startActivator(trigger, bin, "-addr", addr)
	if err != nil {
		return 0, 0, err
	}
	defer stop(cmd)
	start := time.Now()
	deadline := start.Add(coldDeadline)
	t, err := net.DialTimeout("tcp", trigger, coldDeadline)
	if err != nil {
		return 0, 0, err
	}
	defer t.Close()
	return dialFirstByte(addr, start, deadline)
}

// dialFirstByte dials addr in the retry loop until it connects and returns
// the time from start to the first response byte, and dialRetry's gap.
func dialFirstByte(addr string, start, deadline time.Time) (d, gap time.Duration, err error) {
	c, gap, err := dialRetry(addr, start, deadline)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if err := firstByte(c, deadline); err != nil {
		return 0, 0, err
	}
	d = time.Since(start)
	return d, gap, checkRest(c)
}

// dialRetry dials addr until it connects: every refused dial is retried
// after retryInterval. gap is the time between the end of the last refused
// dial (or start) and the start of the dial that connected.
func dialRetry(addr string, start, deadline time.Time) (c net.Conn, gap time.Duration, err error) {
	lastRefused := start
	for {
		attempt := time.Now()
		c, err = net.DialTimeout("tcp", addr, time.Until(deadline))
		if err == nil {
			return c, attempt.Sub(lastRefused), nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return nil, 0, err
		}
		lastRefused = time.Now()
		// Not time.Sleep: the runtime may round a sleep this short up to
		// a millisecond (its poller waits in whole milliseconds).
		ts := syscall.NsecToTimespec(retryInterval.Nanoseconds())
		_ = syscall.Nanosleep(&ts, nil)
	}
}

// coldPlain starts the plain server itself and dials it in the retry loop
// until it connects, then times up to the first response byte. The clock
// starts just before the process is started (fork and exec included), which
// is when the first dial could be made.
func coldPlain(bin string) (d, gap time.Duration, err error) {
	addr, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(bin, "-addr", addr)
	start := time.Now()
	deadline := start.Add(coldDeadline)
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer stop(cmd)
	return dialFirstByte(addr, start, deadline)
}
