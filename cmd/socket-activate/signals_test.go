//go:build unix

package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSIGWINCHIsIgnoredWhileNoProgramRuns(t *testing.T) {
	// SIGWINCH, then SIGTERM: the first that ends socket-activate is
	// returned.
	signals := func() <-chan os.Signal {
		c := make(chan os.Signal, 2)
		c <- syscall.SIGWINCH
		c <- syscall.SIGTERM
		return c
	}
	t.Run("waiting for the first connection", func(t *testing.T) {
		path := filepath.Join(shortTempDir(t), "s")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		f, err := l.(*net.UnixListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		a := &activator{opts: &options{}, stderr: io.Discard, sigs: signals(), fds: []int{int(f.Fd())}}
		sig, err := a.waitTraffic()
		if sig != syscall.SIGTERM || err != nil {
			t.Errorf("waitTraffic() = %v, %v; want SIGTERM", sig, err)
		}
		// A connection ends the poll waitTraffic left running.
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("waiting to restart", func(t *testing.T) {
		a := &activator{opts: &options{restart: true}, stderr: io.Discard, sigs: signals()}
		if sig := a.delay(time.Minute); sig != syscall.SIGTERM {
			t.Errorf("delay() = %v, want SIGTERM", sig)
		}
	})
}
