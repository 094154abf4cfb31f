//go:build unix

package activationtest_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-activation/activation/activationtest"
)

func TestCommandRefuses(t *testing.T) {
	l := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		sockets []activationtest.Socket
		program string
		wantErr string
	}{{
		name:    "a socket with nothing set",
		sockets: []activationtest.Socket{{Name: "web"}},
		program: exe,
		wantErr: `activationtest: socket 0 ("web"): exactly one of Listener, PacketConn and File must be set`,
	}, {
		name:    "a socket with both a listener and a file, after a good one",
		sockets: []activationtest.Socket{l, {Name: "both", Listener: l.Listener, File: f}},
		program: exe,
		wantErr: `activationtest: socket 1 ("both"): exactly one of Listener, PacketConn and File must be set`,
	}, {
		name:    "a listener without a SyscallConn method",
		sockets: []activationtest.Socket{{Name: "web", Listener: struct{ net.Listener }{l.Listener}}},
		program: exe,
		wantErr: `activationtest: socket 0 ("web"): struct { net.Listener } has no SyscallConn method`,
	}, {
		name:    "a program that is not in PATH",
		sockets: []activationtest.Socket{l},
		program: "activationtest-no-such-program",
		wantErr: `activationtest: exec: "activationtest-no-such-program": executable file not found in $PATH`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := openFDs(t)
			cmd, err := activationtest.Command(tt.sockets, tt.program)
			if err == nil {
				t.Fatalf("Command returned %v and no error, want %q", cmd.Args, tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Command error:\n got %q\nwant %q", err, tt.wantErr)
			}
			diff(t, before, openFDs(t))
		})
	}
}

func TestCommandRefusesAClosedListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = activationtest.Command([]activationtest.Socket{{Name: "web", Listener: l}}, "true")
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Command with a closed listener: got error %v, want net.ErrClosed", err)
	}
}

func TestCommandCopiesTheSocketsForTheCallerToClose(t *testing.T) {
	sockets := []activationtest.Socket{
		activationtest.Listen(t, "web", "tcp", "127.0.0.1:0"),
		activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0"),
	}
	before := openFDs(t)

	cmd, err := activationtest.Command(sockets, "true")
	if err != nil {
		t.Fatal(err)
	}
	during := openFDs(t)
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	diff(t, before, openFDs(t))

	// The new fds refer to the same sockets as the caller's.
	var added, want []string
	for fd, target := range during {
		if _, ok := before[fd]; !ok {
			added = append(added, target)
		}
	}
	for _, s := range sockets {
		want = append(want, target(t, before, s))
	}
	slices.Sort(added)
	slices.Sort(want)
	if before != nil {
		diff(t, want, added)
	}
	if got := len(cmd.ExtraFiles); got != len(sockets) {
		t.Errorf("len(cmd.ExtraFiles) = %d, want %d", got, len(sockets))
	}
	if exe, err := os.Executable(); err != nil {
		t.Error(err)
	} else if cmd.Path != exe {
		t.Errorf("cmd.Path = %q, want this program, %q, which sets LISTEN_PID", cmd.Path, exe)
	}
}

// target returns what the fd of s refers to, according to fds.
func target(t *testing.T, fds map[string]string, s activationtest.Socket) string {
	t.Helper()
	var sc syscall.Conn = s.File
	switch {
	case s.Listener != nil:
		sc = s.Listener.(syscall.Conn)
	case s.PacketConn != nil:
		sc = s.PacketConn.(syscall.Conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	return fds[strconv.Itoa(int(fd))]
}

func TestCommandWithoutSocketsRunsTheProgramUnactivated(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	cmd, err := activationtest.Command(nil, "true", "x")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cmd.Args, []string{"true", "x"}) {
		t.Errorf("cmd.Args = %q, want [true x]", cmd.Args)
	}
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, "LISTEN_") {
			t.Errorf("cmd.Env has %q", kv)
		}
	}
}

// Every variable of cmd.Env reaches the program unchanged, whatever its
// name: names that are not shell identifiers, and names a shell sets
// itself (PWD, IFS, PPID, OPTIND).
func TestCommandPassesEveryVariable(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	extra := []string{
		"A.B=1",
		"FOO-BAR=2",
		"com.example.flag=4",
		"1ST=5",
		"WITH SPACE=6",
		"ÜBER=7",
		"EMPTY=",
		"EQUALS=a=b",
		"LINES=one\ntwo",
		"PWD=/nowhere",
		"IFS=x",
		"PPID=5",
		"OPTIND=9",
		"TWICE=first",
		"TWICE=second",
		activationtest.HelperEnv + "=environ",
	}
	for _, tt := range []struct {
		name    string
		sockets func(t *testing.T) []activationtest.Socket
	}{
		{"with a socket", func(t *testing.T) []activationtest.Socket {
			return []activationtest.Socket{activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")}
		}},
		{"without sockets", func(*testing.T) []activationtest.Socket { return nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sockets := tt.sockets(t)
			cmd, err := activationtest.Command(sockets, exe, "-test.run=^$")
			if err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(cmd.Env, extra...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Start()
			for _, f := range cmd.ExtraFiles {
				f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			wait(t, cmd)
			var got childEnv
			if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
				t.Fatalf("the child's report %q: %v (stderr %q)", stdout.String(), err, stderr.String())
			}

			// The environment exec gives: the last of two entries wins.
			want := childEnv{Pid: cmd.Process.Pid}
			last := map[string]int{}
			for i, kv := range cmd.Env {
				name, _, _ := strings.Cut(kv, "=")
				last[name] = i
			}
			for i, kv := range cmd.Env {
				if name, _, _ := strings.Cut(kv, "="); last[name] == i && name != "LISTEN_PID" {
					want.Env = append(want.Env, kv)
				}
			}
			if len(sockets) > 0 {
				want.Env = append(want.Env, "LISTEN_PID="+strconv.Itoa(cmd.Process.Pid))
			}
			slices.Sort(want.Env)
			slices.Sort(got.Env)
			diff(t, want, got)
		})
	}
}

// The child that cannot exec the program exits as a shell would, and says
// why on its standard error.
func TestCommandReportsAProgramThatCannotRun(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(notExecutable, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		program  string
		wantCode int
	}{
		{"a program that does not exist exits with status 127", "/nonexistent/activationtest-program", 127},
		{"a file that cannot be executed exits with status 126", notExecutable, 126},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := activationtest.Command([]activationtest.Socket{activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")}, tt.program)
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err = cmd.Start()
			for _, f := range cmd.ExtraFiles {
				f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			var exit *exec.ExitError
			if err := waitErr(t, cmd); !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Errorf("the child ended with %v, want exit status %d", err, tt.wantCode)
			}
			if want := "activationtest: exec " + tt.program + ": "; !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("the child wrote %q to stderr, want a line starting %q", stderr.String(), want)
			}
		})
	}
}
