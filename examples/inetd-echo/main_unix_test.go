//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// timeout bounds every wait for the child or a client.
const timeout = 10 * time.Second

// The test binary doubles as inetd-echo: with INETD_ECHO_TEST_CHILD=1 it
// runs main.
func TestMain(m *testing.M) {
	if os.Getenv("INETD_ECHO_TEST_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	// Children built with -race would pause for a second as they exit.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// child is inetd-echo running with stdin as its standard input and output.
type child struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	done   chan error // cmd.Wait's result
}

// startChild starts inetd-echo with f as standard input and output, as an
// inetd-style manager does, and closes the test's copy of f. A cleanup
// kills the child if it still runs.
func startChild(t *testing.T, f *os.File) *child {
	t.Helper()
	c := &child{
		cmd:    exec.Command(os.Args[0], "-test.run=^$"),
		stderr: new(strings.Builder),
		done:   make(chan error, 1),
	}
	c.cmd.Env = append(os.Environ(), "INETD_ECHO_TEST_CHILD=1")
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = f, f, c.stderr
	err := c.cmd.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if s := c.stderr.String(); s != "" {
			t.Logf("inetd-echo's standard error:\n%s", s)
		}
	})
	return c
}

// wait waits for the child to exit and returns its exit status.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("inetd-echo still runs after %v", timeout)
		return 0
	}
}

// socketFile returns a socket of package net as an *os.File, a copy owned
// by the caller.
func socketFile(t *testing.T, s interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// echoed sends msg over a new connection to addr, shuts down the sending
// side and returns everything that comes back.
func echoed(network, addr, msg string) (string, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return exchange(c, msg)
}

// exchange writes msg to c, shuts down its sending side and reads until
// the peer closes.
func exchange(c net.Conn, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestEchoesTheConnectionOnStandardInputThenExits(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fds[1])
	peerFile := os.NewFile(uintptr(fds[1]), "peer")
	peer, err := net.FileConn(peerFile)
	peerFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	c := startChild(t, os.NewFile(uintptr(fds[0]), "stdin"))
	const msg = "hello, inetd-echo\nand a second line\n"
	got, err := exchange(peer, msg)
	if err != nil || got != msg {
		t.Errorf("the connection on standard input got back %q, %v; want %q", got, err, msg)
	}
	if code := c.wait(t); code != 0 {
		t.Errorf("inetd-echo exited with status %d, want 0", code)
	}
}

func TestServesTheListenerOnStandardInput(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = socketPath(t)
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c := startChild(t, socketFile(t, l.(interface{ File() (*os.File, error) })))

			// Several clients at once, each answered with its own bytes,
			// by the one process, which keeps serving.
			const clients = 4
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := fmt.Sprintf("client %d\n", i)
					got, err := echoed(network, l.Addr().String(), msg)
					if err == nil && got != msg {
						err = fmt.Errorf("got back %q, want %q", got, msg)
					}
					if err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			select {
			case err := <-c.done:
				c.done <- err
				t.Errorf("inetd-echo exited (%v); it must keep serving the listener", err)
			default:
			}
		})
	}
}

// socketPath returns a short path for a unix socket in a new directory.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "inetd-echo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir + "/s"
}

func TestEchoesDatagramsOnStandardInput(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	startChild(t, socketFile(t, pc.(*net.UDPConn)))

	client, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"first datagram", "second datagram"} {
		if _, err := client.WriteTo([]byte(msg), pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, from, err := client.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != msg || from.String() != pc.LocalAddr().String() {
			t.Errorf("got %q from %s, want %q from %s", got, from, msg, pc.LocalAddr())
		}
	}
}

func TestSaysItExpectsASocket(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stdin func(t *testing.T) *os.File
		kind  string
	}{
		{"a terminal", openTerminal, "character device"},
		{"the null device", func(t *testing.T) *os.File {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, "character device"},
		{"a pipe", func(t *testing.T) *os.File {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			return r
		}, "fifo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, tt.stdin(t))
			if code := c.wait(t); code != 2 {
				t.Errorf("inetd-echo exited with status %d, want 2", code)
			}
			want := "inetd-echo: standard input is a " + tt.kind + ", not a socket.\ninetd-echo expects a socket there: "
			if got := c.stderr.String(); !strings.HasPrefix(got, want) {
				t.Errorf("inetd-echo wrote %q to standard error, want it to start with %q", got, want)
			}
		})
	}
}
