package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

const (
	// timeout bounds every wait for a process, a line or a condition.
	timeout = 10 * time.Second
	// perServer: each server answers this many requests before the test
	// restarts it, so that requests are under way at every restart.
	perServer = 100
	restarts  = 3
)

// loadConfig stops the load after 5000 requests or 12s, whichever comes
// first, even if the test is not done with it.
var loadConfig = restarttest.LoadConfig{Workers: 6, MaxRequests: 5000, Duration: 12 * time.Second, Timeout: timeout}

// The test binary doubles as the server: with HTTP_EXAMPLE_TEST_CHILD=1 it
// prints its pid, for the test's cleanup, and runs main.
func TestMain(m *testing.M) {
	if os.Getenv("HTTP_EXAMPLE_TEST_CHILD") == "1" {
		fmt.Fprintf(os.Stderr, "child: pid %d\n", os.Getpid())
		main()
		os.Exit(0)
	}
	code := m.Run()
	if err := restarttest.RemoveBuilt(); err != nil {
		fmt.Fprintf(os.Stderr, "http example: %v\n", err)
	}
	os.Exit(code)
}

// Under socket-activate --restart, SIGHUP stops the server with SIGTERM and
// starts a new one on the same listening socket. Clients that connect in
// between wait in the socket's backlog; the ones the old server accepted
// must get their answer from it.
func TestRestartsUnderLoadLoseNoRequest(t *testing.T) {
	p := restarttest.StartActivator(t, restarttest.ActivatorConfig{
		Path: restarttest.BuildActivator(t),
		Args: []string{"--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web",
			"-E", "HTTP_EXAMPLE_TEST_CHILD=1",
			// Quiets a test binary built with -cover, which warns at
			// exit without it.
			"-E", "GOCOVERDIR=" + t.TempDir(),
			os.Args[0]},
		Program: os.Args[0],
		PIDLine: childLine,
		Timeout: timeout,
	})
	addr := p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
	p.Output.Wait(t, servingLine, 1)

	client := restarttest.Client(timeout)
	url := "http://" + addr + "/"
	l := restarttest.StartLoad(t, loadConfig, func(int, int) (int, error) { return 0, get(client, url) })
	restartUnderLoad(t, p, l)
	stopActivator(t, p)
	// The whole story, in order: each server starts, serves, and stops
	// without a word.
	serving := `serving on ` + addr + ` (socket-activated, fd 3 named "web")`
	execing := `Execing ` + os.Args[0] + ` (` + os.Args[0] + `)`
	want := []string{
		`Listening on ` + addr + ` as 3.`,
		`socket-activate: listening on ` + addr + ` (fd 3, name "web")`,
		execing,
		`child: pid PID`,
		serving,
	}
	for r := 1; r <= restarts; r++ {
		want = append(want,
			`socket-activate: SIGHUP: stopping the program with SIGTERM to restart it`,
			`socket-activate: restarting (restart `+strconv.Itoa(r)+`): `+os.Args[0],
			execing,
			`child: pid PID`,
			serving)
	}
	if got := p.Output.Replaced(`pid \d+`, "pid PID"); !slices.Equal(got, want) {
		t.Errorf("socket-activate's output (-want +got):\n%s", restarttest.Diff(want, got))
	}
}

// With the file descriptor store hello-http.service enables (here
// socket-activate --notify's, which sets FDSTORE as systemd does), clients
// that keep their connections and send POSTs, which a client does not send
// again when a kept connection ends, lose nothing either: each server hands
// the idle connections to the next.
func TestRestartsWithTheStoreLoseNoRequestOnKeptConnections(t *testing.T) {
	p := restarttest.StartActivator(t, restarttest.ActivatorConfig{
		Path: restarttest.BuildActivator(t),
		Args: []string{"--notify", "--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web",
			"-E", "HTTP_EXAMPLE_TEST_CHILD=1",
			"-E", "GOCOVERDIR=" + t.TempDir(),
			os.Args[0]},
		Program: os.Args[0],
		PIDLine: childLine,
		Timeout: timeout,
	})
	addr := p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
	p.Output.Wait(t, servingLine, 1)

	const workers = 6
	client := restarttest.KeepAliveClient(workers, timeout)
	defer client.CloseIdleConnections()
	url := "http://" + addr + "/"
	config := loadConfig
	config.Workers = workers
	l := restarttest.StartLoad(t, config, func(w, i int) (int, error) {
		body, err := restarttest.Post(client, url, []byte(fmt.Sprintf("worker %d request %d", w, i)))
		if err == nil && string(body) != wantBody {
			err = fmt.Errorf("POST %s: %q, want %q", url, body, wantBody)
		}
		return 0, err
	})
	restartUnderLoad(t, p, l)
	stopActivator(t, p)
}

// With --all the example serves on every socket it is passed, and says
// which in the order they were passed: names chosen so that no sorted or
// map order gives it.
func TestAllServesEverySocketInTheOrderPassed(t *testing.T) {
	names := []string{"web", "admin", "metrics"}
	args := []string{"--now"}
	for range names {
		args = append(args, "-l", "127.0.0.1:0")
	}
	args = append(args, "--fdname="+strings.Join(names, ":"),
		"-E", "HTTP_EXAMPLE_TEST_CHILD=1",
		"-E", "GOCOVERDIR="+t.TempDir(),
		os.Args[0], "--all")
	p := restarttest.StartActivator(t, restarttest.ActivatorConfig{
		Path:    restarttest.BuildActivator(t),
		Args:    args,
		Program: os.Args[0],
		PIDLine: childLine,
		Timeout: timeout,
	})
	listening := p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd (\d+), name "(\S+)"\)$`, len(names))
	serving := p.Output.Wait(t, `^serving on (\S+) \((.*)\)$`, len(names))

	client := restarttest.Client(timeout)
	for i, name := range names {
		addr := listening[i][1]
		if fd, got := strconv.Itoa(3+i), listening[i][2]; got != fd || listening[i][3] != name {
			t.Fatalf("socket-activate passed %s as fd %s named %q, want fd %s named %q", addr, got, listening[i][3], fd, name)
		}
		how := fmt.Sprintf("socket-activated, socket %d of %d, named %q", i+1, len(names), name)
		if serving[i][1] != addr || serving[i][2] != how {
			t.Errorf("serving line %d: on %s (%s), want on %s (%s)", i+1, serving[i][1], serving[i][2], addr, how)
		}
		body, err := restarttest.Get(client, "http://"+addr+"/")
		if want := "Hello from go-activation: " + how + "\n"; err != nil || string(body) != want {
			t.Errorf("GET on %s: %q, %v; want %q", name, body, err, want)
		}
	}

	stopActivator(t, p)
}

// Run by hand, --all has nothing to serve and says so.
func TestAllWithoutSocketsFails(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--all")
	cmd.Env = append(os.Environ(), "HTTP_EXAMPLE_TEST_CHILD=1", "GOCOVERDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("--all without sockets: %v, want exit status 1; output:\n%s", err, out)
	}
	if want := "--all: no listening socket was passed\n"; !strings.HasSuffix(string(out), want) {
		t.Errorf("--all without sockets wrote %q, want it to end with %q", out, want)
	}
}

// restartUnderLoad restarts the server under p restarts times with SIGHUP
// while l runs, letting each server answer perServer requests first, then
// halts the load and fails the test if a request failed.
func restartUnderLoad(t *testing.T, p *restarttest.Activator, l *restarttest.Load) {
	t.Helper()
	// Socket-activate starts a server once the one before has exited, so
	// the answers counted after a server's start line are, but for the
	// odd one still being recorded, its own.
	for r := 1; r <= restarts+1; r++ {
		since := l.Answered()
		l.WaitFor(t, fmt.Sprintf("%d requests answered by server %d", perServer, r), func() bool {
			return l.Answered() >= since+perServer
		})
		if r <= restarts {
			p.Signal(t, syscall.SIGHUP)
			p.Output.Wait(t, servingLine, r+1)
		}
	}
	l.Halt()
	t.Logf("%d requests, %d failed, %d restarts", l.Requests(), l.Failed(), restarts)
	if err := l.Err(); err != nil {
		t.Error(err)
	}
}

// stopActivator stops socket-activate with SIGTERM, which it passes to the
// server, and wants the server's status 0.
func stopActivator(t *testing.T, p *restarttest.Activator) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t); code != 0 {
		t.Errorf("socket-activate exited with status %d after SIGTERM, want the server's 0", code)
	}
}

// servingLine is what the example logs once it serves.
const servingLine = `^serving on \S+ \(socket-activated, fd 3 named "web"\)$`

// childLine is what the test binary prints as a server.
const childLine = `^child: pid (\d+)$`

// wantBody is the example's answer on the socket socket-activate passes.
const wantBody = "Hello from go-activation: socket-activated, fd 3 named \"web\"\n"

// get requests url and checks the answer.
func get(client *http.Client, url string) error {
	body, err := restarttest.Get(client, url)
	if err != nil {
		return err
	}
	if string(body) != wantBody {
		return fmt.Errorf("GET %s: %q, want %q", url, body, wantBody)
	}
	return nil
}
