//go:build linux

package fdstore

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

// keepalivePackage is the server of the hand-over test.
const keepalivePackage = "github.com/go-activation/activation/internal/fdstore/testdata/keepalive"

const (
	// handoverRestarts: each restart hands the clients' connections over.
	handoverRestarts = 4
	// perKeepAliveServer: each server answers this many requests before
	// the test restarts it.
	perKeepAliveServer = 150
	keepAliveWorkers   = 8
)

// handoverLoad stops after 6000 requests or 20s, whichever comes first.
var handoverLoad = restarttest.LoadConfig{Workers: keepAliveWorkers, MaxRequests: 6000, Duration: 20 * time.Second, Timeout: timeout}

// Clients that keep their connections and send POSTs with bodies, which
// http.Transport does not send again when a kept connection ends: a server
// that closed its idle connections at a stop would fail some of them. Each
// server hands its connections to the next through the activator's store
// (socket-activate --notify sets FDSTORE, as systemd does), and no request
// fails. Every server after the first takes connections back, no server
// leaves an fd open, and the activator's store is empty again once the
// next server took them.
func TestRestartsHandIdleKeepAliveConnectionsToTheNextServer(t *testing.T) {
	bin := restarttest.Build(t, keepalivePackage)
	p := restarttest.StartActivator(t, restarttest.ActivatorConfig{
		Path:    restarttest.BuildActivator(t),
		Args:    []string{"--notify", "--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web", bin},
		Program: bin,
		PIDLine: keepaliveLine,
		Timeout: timeout,
	})
	addr := p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
	p.Output.Wait(t, readyLine, 1)
	// The store holds sockets; the activator's own sockets are the
	// listener and the notification socket. (Its other fds come and go
	// with the Go runtime's poller and the running program.)
	fdDir := "/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/fd"
	activatorFDs := func() int {
		n := 0
		for _, fd := range fdList(t, fdDir) {
			if strings.Contains(fd, "=socket:") {
				n++
			}
		}
		return n
	}
	// Nothing is stored yet.
	base := activatorFDs()
	if base != 2 {
		t.Fatalf("socket-activate holds %d sockets, want 2: %v", base, fdList(t, fdDir))
	}
	baseList := fdList(t, fdDir)
	defer func() {
		if t.Failed() {
			t.Logf("socket-activate's fds at the start: %v; now: %v", baseList, fdList(t, fdDir))
		}
	}()

	url := "http://" + addr + "/echo"
	client := restarttest.KeepAliveClient(keepAliveWorkers, timeout)
	defer client.CloseIdleConnections()
	l := restarttest.StartLoad(t, handoverLoad, func(w, i int) (int, error) {
		body := fmt.Sprintf("worker %d request %d", w, i)
		answer, err := restarttest.Post(client, url, []byte(body))
		if err != nil {
			return 0, err
		}
		pidText, echo, _ := strings.Cut(string(answer), " ")
		pid, err := strconv.Atoi(pidText)
		if err != nil || echo != body {
			return 0, fmt.Errorf("POST %s: answer %q, want a pid and %q", url, answer, body)
		}
		return pid, nil
	})
	for r := 1; r <= handoverRestarts; r++ {
		pid := p.PIDs(t, r)[r-1]
		l.WaitFor(t, fmt.Sprintf("%d requests answered by pid %d", perKeepAliveServer, pid), func() bool {
			return l.AnsweredBy(pid) >= perKeepAliveServer
		})
		p.Signal(t, syscall.SIGHUP)
		p.Output.Wait(t, readyLine, r+1)
		// The new server removed what it took back from the store.
		l.WaitFor(t, fmt.Sprintf("socket-activate back to %d sockets after restart %d", base, r), func() bool {
			return activatorFDs() == base
		})
	}
	pids := p.PIDs(t, handoverRestarts+1)
	last := pids[handoverRestarts]
	l.WaitFor(t, fmt.Sprintf("%d requests answered by pid %d", perKeepAliveServer, last), func() bool {
		return l.AnsweredBy(last) >= perKeepAliveServer
	})
	l.Halt()

	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t); code != 0 {
		t.Errorf("socket-activate exited with status %d after SIGTERM, want the server's 0", code)
	}
	var tookBack []int
	for _, m := range p.Output.Matches(keepaliveLine) {
		n, _ := strconv.Atoi(m[2])
		tookBack = append(tookBack, n)
	}
	t.Logf("%d requests, %d failed, %d restarts, pids %v answered %v, connections taken back at each start %v",
		l.Requests(), l.Failed(), handoverRestarts, pids, l.ByPID(), tookBack)

	if err := l.Err(); err != nil {
		t.Error(err)
	}
	if answered := l.PIDs(); !slices.Equal(answered, sortedCopy(pids)) {
		t.Errorf("pids that answered: %v; want every server started: %v", answered, pids)
	}
	for i, n := range tookBack {
		if i == 0 && n != 0 || i > 0 && n == 0 {
			t.Errorf("server %d took back %d connections, want %s", i+1, n, map[bool]string{true: "none", false: "some"}[i == 0])
		}
	}
	stops := p.Output.Matches(stoppedLine)
	if len(stops) != len(pids) {
		t.Errorf("%d servers reported their stop, want %d", len(stops), len(pids))
	}
	for i, m := range stops {
		after, _ := strconv.Atoi(m[2])
		before, _ := strconv.Atoi(m[3])
		if i < len(tookBack) && after != before-1-tookBack[i] {
			t.Errorf("server %d: %d fds open after Serve, %d before with %d connections taken back: want %d", i+1, after, before, tookBack[i], before-1-tookBack[i])
		}
	}
}

// keepaliveLine is what the hand-over test's server prints at start.
const keepaliveLine = `^keepalive: pid (\d+) took back (\d+) connections$`

// stoppedLine is what it prints once Serve returned.
const stoppedLine = `^keepalive: pid (\d+) stopped with (\d+) fds open, (\d+) before serving$`

// fdList describes the fds in dir, a /proc/PID/fd.
func fdList(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var list []string
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			target = err.Error()
		}
		list = append(list, e.Name()+"="+target)
	}
	return list
}
