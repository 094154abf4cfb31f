//go:build unix

package activation_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-activation/activation"
)

func init() {
	scenarios["listeners-served"] = withNetpoll(childListenersServed)
}

func TestMixedBlockingAndNonBlockingListeners(t *testing.T) {
	var files []*os.File
	var order []string
	for i, nonblock := range []bool{false, true, false, true, true, false} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if nonblock {
			files = append(files, nonBlockingFileOf(t, l.(*net.TCPListener)))
		} else {
			files = append(files, fileOf(t, l.(*net.TCPListener)))
		}
		order = append(order, fmt.Sprintf("fd %d non-blocking %v", 3+i, nonblock))
	}
	r := run(t, childProc{scenario: "listeners-served", files: files, env: activated(len(files))})
	diff(t, "lines", []string{"passed: " + strings.Join(order, ", "), "Listeners: 6"}, r.Lines)
	diff(t, "problems", []string(nil), r.Problems)
}

// childListenersServed takes every listener with Listeners and checks that
// each is a working listener of the runtime's poller (a deadline ends an
// Accept), that the process holds one fd per listener, and that closing
// them leaves nothing behind.
func childListenersServed(r *report) {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	var modes []string
	for fd := 3; fd < 3+n; fd++ {
		modes = append(modes, fmt.Sprintf("fd %d non-blocking %v", fd, isNonBlocking(fd)))
	}
	r.line("passed: %s", strings.Join(modes, ", "))
	before := countFDs()
	ls, err := activation.Listeners()
	if err != nil {
		r.problem("Listeners: %v", err)
	}
	r.line("Listeners: %d", len(ls))
	if held := countFDs(); held != before {
		r.problem("open fds: %d before Listeners, %d holding its %d listeners; want one fd per socket", before, held, len(ls))
	}
	for i, l := range ls {
		type deadliner interface{ SetDeadline(time.Time) error }
		if err := l.(deadliner).SetDeadline(time.Now().Add(-time.Second)); err != nil {
			r.problem("listener %d (%s): SetDeadline: %v", i, l.Addr(), err)
		} else if _, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
			r.problem("listener %d (%s): Accept past its deadline: %v, want a timeout", i, l.Addr(), err)
		}
		l.(deadliner).SetDeadline(time.Time{})
		if err := serveOnce(l); err != nil {
			r.problem("listener %d (%s): %v", i, l.Addr(), err)
		}
	}
	for _, l := range ls {
		l.Close()
	}
	if after := countFDs(); after != before-len(ls) {
		r.problem("open fds: %d before Listeners, %d after closing its %d listeners", before, after, len(ls))
	}
}

// The error of a conversion that fails names the fd it failed on, and no
// other: converting through a carrier made of another fd must not lend
// the error that fd's name.
func TestAConversionErrorNamesOnlyItsFD(t *testing.T) {
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	c, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{scenario: "failed-then-calls", files: filesOf(a, b, c),
		env: append(activated(3, "first", "second", "third"), "ACTIVATION_TEST_SHOW_ERROR=1")})
	diff(t, "problems", []string(nil), r.Problems)
	const want = `failed: activation: fd 4 ("second") as a listener: `
	if len(r.Lines) == 0 || !strings.HasPrefix(r.Lines[0], want) || strings.Contains(r.Lines[0], "first") ||
		strings.Contains(r.Lines[0], "file+net") {
		t.Errorf("lines: %q; want the error to start %q and name no other fd", r.Lines, want)
	}
}
