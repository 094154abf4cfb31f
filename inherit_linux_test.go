package activation_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/go-activation/activation"
	"golang.org/x/sys/unix"
)

// An O_PATH fd (a handle on a directory or file, which the fd store may
// hold) is an fd like any other: Files hands it out and every other call
// still works.
func TestAnOPathFDIsAFileNotAnError(t *testing.T) {
	fd, err := unix.Open(t.TempDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.NewFile(uintptr(fd), "dir")
	t.Cleanup(func() { dir.Close() })
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{dir, web.file},
		env:      activated(2, "state", "web"),
		calls:    []call{listenersCall(), filesCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "Listeners", Items: []string{web.desc}},
		{Call: "Files", Items: []string{"*os.File state mode 40000"}},
	}, r.Calls)
	if len(r.Inherited) != 2 || r.Inherited[0] != `fd 3 "state": other, claimed` {
		t.Errorf("Inherited: %q", r.Inherited)
	}
	diff(t, "problems using the values", []string(nil), r.Serve)
}

// An ICMP "ping" socket is a datagram socket with inet addresses, which
// the net package would serve as UDP: it is of network other, and only
// Files takes it.
func TestAPingSocketIsNotUDP(t *testing.T) {
	ping := pingSocket(t)
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{ping, dns.file},
		env:      activated(2, "ping", "dns"),
		calls:    []call{packetConnsCall(), listenPacketCall("udp", "sd-listen:ping"), filesCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "PacketConns", Items: []string{dns.desc}},
		{Call: "ListenPacket udp sd-listen:ping", Err: r.Calls[1].Err},
		{Call: "Files", Items: []string{"*os.File ping mode 140000"}},
	}, r.Calls)
	if want := `listen udp sd-listen:ping: activation: no unclaimed datagram socket is named "ping"`; !strings.HasPrefix(r.Calls[1].Err, want) {
		t.Errorf("ListenPacket: error %q, want one starting %q", r.Calls[1].Err, want)
	}
	if len(r.Inherited) != 2 || r.Inherited[0] != `fd 3 "ping": other socket on 0.0.0.0, claimed` {
		t.Errorf("Inherited: %q", r.Inherited)
	}
}

// pingSocket opens an ICMP datagram socket. The kernel allows them only to
// the groups in net.ipv4.ping_group_range, by default none; as root, the
// socket is made in a network namespace of its own where the range can be
// set without touching the machine's.
func pingSocket(t *testing.T) *os.File {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if errors.Is(err, unix.EACCES) && os.Geteuid() == 0 {
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with its namespace
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				done <- err
				return
			}
			if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0); err != nil {
				done <- err
				return
			}
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
			done <- err
		}()
		err = <-done
	}
	if err != nil {
		msg := "cannot open an ICMP datagram socket (net.ipv4.ping_group_range, or root to set it in a network namespace): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	f := os.NewFile(uintptr(fd), "ping")
	t.Cleanup(func() { f.Close() })
	return f
}

func init() {
	scenarios["syscalls"] = func(r *report) {
		runtime.LockOSThread()
		syscall.Write(-1, []byte("activation-marker-begin"))
		_, err := activation.Files()
		syscall.Write(-1, []byte("activation-marker-end"))
		if err != nil {
			r.line("%v", err)
		}
	}
}

// The README quotes what LISTEN_FDS=2000000000 with one fd costs in
// system calls; strace counts them between two markers the child writes.
func TestAHugeLISTEN_FDSCostsTheSystemCallsTheREADMESays(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		msg := "strace is needed to count system calls (Debian package strace): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	words := map[string]int{"three": 3, "four": 4, "five": 5, "six": 6}
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`LISTEN_FDS=2000000000` + "`" + ` with one real fd\s+costs (\w+) system calls \(([^)]*)\)`).FindSubmatch(b)
	if m == nil || words[string(m[1])] == 0 {
		t.Fatalf("README.md does not say what LISTEN_FDS=2000000000 costs in system calls")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := childCommand(childProc{files: filesOf(pipeReader(t)), env: []string{"LISTEN_PID=self", "LISTEN_FDS=2000000000"}})
	cmd.Args = append([]string{strace, "-f", "-qq", "-o", trace}, cmd.Args...)
	cmd.Path = strace
	r := runCmd(t, "syscalls", cmd)
	if len(r.Lines) != 1 || !strings.Contains(r.Lines[0], "fd 4 is not open") {
		t.Fatalf("the call said %q, want the error at fd 4", r.Lines)
	}
	out, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	calls := markedSyscalls(t, string(out))
	if got, want := len(calls), words[string(m[1])]; got != want {
		t.Errorf("the call made %d system calls %q; README.md says %s (%s)", got, calls, m[1], m[2])
	}
}

// markedSyscalls returns the names of the system calls the thread that
// wrote the begin marker made before the end marker, less the Go
// runtime's own housekeeping, which lands on any thread at any time.
func markedSyscalls(t *testing.T, trace string) []string {
	t.Helper()
	housekeeping := map[string]bool{"futex": true, "nanosleep": true, "rt_sigreturn": true, "rt_sigprocmask": true,
		"sched_yield": true, "mmap": true, "munmap": true, "madvise": true, "mprotect": true, "clone": true, "clone3": true,
		"gettid": true, "tgkill": true, "sigaltstack": true, "epoll_pwait": true, "epoll_wait": true}
	tid := ""
	var calls []string
	for _, line := range strings.Split(trace, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch {
		case tid == "" && strings.Contains(line, "activation-marker-begin"):
			tid = f[0]
		case tid == "" || f[0] != tid || strings.HasPrefix(f[1], "<..."):
		case strings.Contains(line, "activation-marker-end"):
			return calls
		default:
			if name, _, ok := strings.Cut(f[1], "("); ok && !housekeeping[name] {
				calls = append(calls, name)
			}
		}
	}
	t.Fatalf("no markers in the trace:\n%s", trace)
	return nil
}
