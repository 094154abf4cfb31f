//go:build unix

package main

// The compatibility tests run the same command under socket-activate and,
// where it is installed, under systemd-socket-activate, and compare what
// the program sees with one expectation. With CI set on Linux, a missing
// systemd-socket-activate fails them; elsewhere they run under
// socket-activate alone.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sdActivate is the activator socket-activate stands in for.
const sdActivate = "/usr/bin/systemd-socket-activate"

// impl is one of the two activators a compatibility test runs.
type impl struct {
	name string // how its own messages start: "socket-activate" or "systemd-socket-activate"
	path string // its executable; "" for this test binary playing socket-activate
}

// ours is socket-activate, played by this test binary.
var ours = impl{name: "socket-activate"}

// impls returns socket-activate and, where it is installed,
// systemd-socket-activate. On Linux with CI set a missing
// systemd-socket-activate fails the test instead.
func impls(t *testing.T) []impl {
	t.Helper()
	if _, err := os.Stat(sdActivate); err != nil {
		if os.Getenv("CI") != "" && runtime.GOOS == "linux" {
			t.Fatalf("CI is set and %s is missing (Debian and Ubuntu ship it in the systemd package): %v", sdActivate, err)
		}
		t.Logf("%s is missing: running under socket-activate alone", sdActivate)
		return []impl{ours}
	}
	return []impl{ours, {name: "systemd-socket-activate", path: sdActivate}}
}

// start runs the activator with args, in a process group of its own,
// with SA_COPY and SA_SECRET added to its environment.
func (a impl) start(t *testing.T, args ...string) *proc {
	t.Helper()
	return a.startWith(t, nil, args...)
}

// startWith runs the activator as start does, with files as its fds 3,
// 4, … (a nil entry leaves its fd closed).
func (a impl) startWith(t *testing.T, files []*os.File, args ...string) *proc {
	t.Helper()
	path, env := a.command(t)
	return startCommand(t, path, env, files, args...)
}

// command returns the activator's executable and what to add to its
// environment.
func (a impl) command(t *testing.T) (path string, env []string) {
	t.Helper()
	if a.path != "" {
		return a.path, nil
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe, []string{runMainEnv + "=1"}
}

// sockPath returns a unix socket path in dir, one per activator, so that
// the runs of one test do not share a socket file.
func (a impl) sockPath(dir, name string) string {
	return filepath.Join(dir, a.name+"."+name)
}

// view is what a program found when it started, in terms that do not
// depend on the activator: the compatibility tests compare it.
type view struct {
	Env     map[string]string // LISTEN_PID is "self" when it is the program's pid
	FDs     []string          // every fd from 3 up it inherited, described by describeAny
	Ignored []string          // which of SIGHUP and SIGINT it started with ignored
	Pgid    int               // its process group
}

// viewAndServe prints the program's view as one JSON line on stdout, then
// serves the sockets it inherited as reportAndServe does (whatever
// LISTEN_FDS says).
func viewAndServe() error {
	v := view{Env: map[string]string{}, Pgid: pgid()}
	for _, kv := range os.Environ() {
		k, val, _ := strings.Cut(kv, "=")
		if k == "LISTEN_PID" && val == strconv.Itoa(os.Getpid()) {
			val = "self"
		}
		v.Env[k] = val
	}
	fds := inheritedFDs()
	for _, fd := range fds {
		v.FDs = append(v.FDs, fmt.Sprintf("%d %s", fd, describeAny(fd)))
	}
	v.Ignored = ignoredSignals()
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", out)
	serve(fds)
	return nil
}

// viewAndWait prints the program's view as viewAndServe does, then waits
// for SIGTERM, touching no other signal, says "got terminated" and exits.
func viewAndWait() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	v := view{Env: map[string]string{}, Pgid: pgid(), Ignored: ignoredSignals()}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", out)
	<-sigs
	fmt.Println("got terminated")
	return nil
}

// holdConn answers the connection on fd 3 (--accept) with a line that
// says which of SIGHUP and SIGINT it started with ignored, then waits for
// SIGTERM and says "got terminated" on the connection before it exits.
func holdConn() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	ignored := ignoredSignals()
	c, err := net.FileConn(os.NewFile(3, "conn"))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "pid %d ignored %q\n", os.Getpid(), ignored); err != nil {
		return err
	}
	<-sigs
	_, err = fmt.Fprintln(c, "got terminated")
	return err
}

// ignoredSignals returns which of SIGHUP and SIGINT this process started
// with ignored, the two Go can tell.
func ignoredSignals() []string {
	var ignored []string
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if signal.Ignored(sig) {
			ignored = append(ignored, sig.String())
		}
	}
	return ignored
}

// pgid returns this process's process group.
func pgid() int {
	pgid, _ := unix.Getpgid(0)
	return pgid
}

// inheritedFDs returns the fds from 3 up that this process got through
// exec: open and not close-on-exec, since the Go runtime and this program
// open every fd close-on-exec. It reads /proc/self/fd where there is one
// and tries fds 3 to 1023 elsewhere.
func inheritedFDs() []int {
	var open []int
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil {
				open = append(open, fd)
			}
		}
	} else {
		for fd := 3; fd < 1024; fd++ {
			open = append(open, fd)
		}
	}
	var fds []int
	for _, fd := range open {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if fd >= 3 && err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	return fds
}

// describeAny describes a socket as describeFD does, and another fd by
// what /proc says it is or by its file type.
func describeAny(fd int) string {
	if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil {
		return describeFD(fd)
	}
	if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil {
		return target
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("file mode %#o", st.Mode)
}

// readView waits for the program's view on p's standard output.
func readView(t *testing.T, p *proc) view {
	t.Helper()
	line := p.stdout.Wait(t, `^\{"Env".*`, 1)[0][0]
	var v view
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("view %q: %v", line, err)
	}
	return v
}

// startPassing runs the activator as startWith does, with files as its
// fds 3, 4, … passed to it by LISTEN_FDS, LISTEN_FDNAMES set to names
// unless names is nil, and LISTEN_PID set to its pid by a shell that then
// executes it.
func (a impl) startPassing(t *testing.T, files []*os.File, names []string, args ...string) *proc {
	t.Helper()
	env := []string{"LISTEN_FDS=" + strconv.Itoa(len(files))}
	if names != nil {
		env = append(env, "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return a.startShell(t, `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, env, files, args...)
}

// startShell runs the activator with args through /bin/sh -c script,
// where "$0" is the activator and "$@" args, with env added to the
// environment and files as fds 3, 4, ….
func (a impl) startShell(t *testing.T, script string, env []string, files []*os.File, args ...string) *proc {
	t.Helper()
	path, more := a.command(t)
	env = append(env, more...)
	return startCommand(t, "/bin/sh", env, files, append([]string{"-c", script, path}, args...)...)
}

// listenUnix returns a listening unix socket at path as a file, blocking
// and closed by the test's cleanup, to pass to an activator.
func listenUnix(t *testing.T, path string) *os.File {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // the file is the cleanup's to remove
	f, err := l.File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(path) })
	return f
}

// startOnFreePort runs the activator with the arguments args gives for a
// TCP address on 127.0.0.1, which must be the first -l: port 0 would do
// for socket-activate, but systemd-socket-activate refuses it. The port
// was free a moment before; if another process takes it meanwhile, it
// tries another, a few times.
func (a impl) startOnFreePort(t *testing.T, args func(addr string) []string) (*proc, string) {
	t.Helper()
	for try := 1; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p := a.start(t, args(addr)...)
		m := p.stderr.Wait(t, `^(Listening on |Failed to open|socket-activate: cannot listen on)`, 1)
		if strings.HasPrefix(m[0][0], "Listening on ") || try == 3 {
			return p, addr
		}
	}
}

// stderrLines returns the lines of p's standard error so far, but those
// of socket-activate's own that start "socket-activate: ", with every
// number after "PID " or "Child " replaced by "N".
func stderrLines(p *proc) []string {
	var lines []string
	for _, l := range p.stderr.Replaced(`(PID|Child) \d+`, "$1 N") {
		if !strings.HasPrefix(l, "socket-activate: ") {
			lines = append(lines, l)
		}
	}
	return lines
}
