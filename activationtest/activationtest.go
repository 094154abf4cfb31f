// Package activationtest starts a program as a socket-activated child, for
// tests of servers that take their sockets through the LISTEN_FDS protocol
// (the one systemd uses).
//
// The test opens its sockets itself, usually on a loopback address with a
// port picked by the kernel, and passes them to the child as fds 3, 4, … with
// LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID set, the way systemd does. The
// test keeps its own copies, so it knows every address before the child
// starts and can connect at once: the kernel queues connections until the
// child accepts them.
//
//	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
//	activationtest.Start(t, []activationtest.Socket{web}, "./myserver")
//	resp, err := http.Get("http://" + web.Listener.Addr().String() + "/")
//
// The child may also be the test binary itself, the pattern of the os/exec
// tests: TestMain runs a helper instead of the tests when [HelperName] names
// one, and [Self] starts the test binary that way.
//
//	func TestMain(m *testing.M) {
//		switch activationtest.HelperName() {
//		case "":
//			os.Exit(m.Run())
//		case "server":
//			serve() // the code under test: it calls activation.Listeners()
//			os.Exit(0)
//		default:
//			fmt.Fprintf(os.Stderr, "unknown helper %q\n", activationtest.HelperName())
//			os.Exit(2)
//		}
//	}
//
//	func TestServer(t *testing.T) {
//		web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
//		activationtest.Self(t, []activationtest.Socket{web}, "server")
//		// talk to web.Listener.Addr() …
//	}
//
// LISTEN_PID must be the child's own pid, which the parent does not know
// before the child exists. The child therefore starts as the program that
// called [Command] (os.Executable), which this package's init function
// turns into a shim: it sets LISTEN_PID to its own pid and replaces itself
// with the program (exec keeps the pid), with every other variable of the
// command's environment passed on unchanged, whatever its name. The shim
// runs the initialization of the packages Go initializes before this one,
// but no other, and neither main nor any test. (A shell would not do:
// dash, Debian's /bin/sh, drops variables whose names are not identifiers,
// such as A.B and FOO-BAR, and sets PWD, IFS and PPID itself.)
//
// Passing sockets to a child needs Unix (ExtraFiles, exec). On other
// systems [Command] returns an error wrapping [errors.ErrUnsupported], and
// [Start] and [Self] fail the test with it.
package activationtest

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Socket is one fd to pass to the child. Exactly one of Listener, PacketConn
// and File is set, and it must implement [syscall.Conn], as every socket type
// of package net and *os.File do.
//
// The Socket stays the caller's: the child gets its own fd for the same
// socket, and neither [Command] nor [Start] closes the Listener, PacketConn or
// File. The two fds share the socket's flags: a socket of package net is in
// non-blocking mode, so the child gets it that way (as from systemd with
// NonBlocking=yes), and the parent's copy keeps its deadlines working.
type Socket struct {
	// Name is the fd's name in LISTEN_FDNAMES. The empty string stands for
	// "unknown", the name systemd gives an fd that has none.
	Name string

	Listener   net.Listener
	PacketConn net.PacketConn
	File       *os.File
}

// HelperEnv is the environment variable by which [Self] tells the test binary
// which helper to run. [HelperName] reads it.
const HelperEnv = "ACTIVATIONTEST_HELPER"

// HelperName returns the helper that [Self] asked the test binary to run, or
// "" when the process was not started by [Self]. TestMain calls it before
// m.Run.
func HelperName() string {
	return os.Getenv(HelperEnv)
}

// Command returns a command, not yet started, that runs the program name
// with the given arguments as a socket-activated child: the sockets become
// its fds 3, 4, … in order, LISTEN_FDS is their count, LISTEN_FDNAMES their
// names (":" and "\" in a name are escaped with a backslash) and LISTEN_PID
// the child's own pid, set by a shim that then execs the program: cmd.Path
// is the calling program itself (see the package documentation). A name
// without a slash is looked up in PATH, as exec.Command does.
//
// cmd.Env is the parent's environment without any LISTEN_* variable, plus
// LISTEN_FDS and LISTEN_FDNAMES; the caller may append to it, and a later
// entry replaces an earlier one. Every entry reaches the program, whatever
// its name; LISTEN_PID is always set by the shim. With
// no sockets, the program runs directly and without LISTEN_* variables: it
// is not activated.
//
// cmd.ExtraFiles holds copies of the sockets, which belong to the caller of
// Command: close them once cmd.Start has returned, or when the command is not
// started. The Listener, PacketConn and File of each Socket are left open and
// keep working in the parent.
func Command(sockets []Socket, name string, args ...string) (*exec.Cmd, error) {
	return command(sockets, name, args)
}

// Start runs the program name as a socket-activated child, like [Command]
// followed by cmd.Start, and fails the test if it cannot. It closes the
// parent's copies of the sockets once the child has started, and registers a
// cleanup that kills the child, if it still runs, and waits for it.
//
// The test may call cmd.Wait itself, and then the cleanup only logs. The
// child's standard output and error are collected and logged with t.Log
// during the cleanup. A test that needs them, or needs to change the command
// before it starts, uses [Command].
func Start(t testing.TB, sockets []Socket, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd, err := Command(sockets, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	start(t, cmd, name)
	return cmd
}

// Self runs the test binary itself as a socket-activated child, like
// [Start], with no tests selected (-test.run=^$) and [HelperEnv] set to
// helper, so that TestMain runs that helper instead of the tests (see the
// package documentation).
func Self(t testing.TB, sockets []Socket, helper string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("activationtest: finding the test binary: %v", err)
	}
	cmd, err := Command(sockets, exe, "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, HelperEnv+"="+helper)
	start(t, cmd, exe+" (helper "+helper+")")
	return cmd
}

// waitDelay bounds how long the cleanup of [Start] waits for the child's
// output once the child has been killed (a grandchild may hold the pipe).
const waitDelay = 10 * time.Second

// start starts cmd, closes its ExtraFiles and registers the cleanup that
// kills and waits for it. name is the program's name for messages: cmd runs
// the shim first.
func start(t testing.TB, cmd *exec.Cmd, name string) {
	t.Helper()
	out := new(syncBuffer)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = waitDelay
	err := cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	if err != nil {
		t.Fatalf("activationtest: starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("activationtest: killing %s: %v", name, err)
			}
			// The child was killed: its exit status says only that.
			_ = cmd.Wait()
		}
		if b := out.Bytes(); len(b) > 0 {
			t.Logf("output of %s (pid %d):\n%s", name, cmd.Process.Pid, b)
		}
	})
}

// syncBuffer is a bytes.Buffer that the child's output can be written to
// while the cleanup reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Listen listens on the network and address, as net.Listen does, and returns
// the listener as a Socket named name. The listener belongs to the test: a
// cleanup closes it. Listen fails the test if it cannot listen.
func Listen(t testing.TB, name, network, address string) Socket {
	t.Helper()
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatalf("activationtest: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return Socket{Name: name, Listener: l}
}

// ListenPacket listens on the network and address, as net.ListenPacket does,
// and returns the connection as a Socket named name. The connection belongs
// to the test: a cleanup closes it. ListenPacket fails the test if it cannot
// listen.
func ListenPacket(t testing.TB, name, network, address string) Socket {
	t.Helper()
	c, err := net.ListenPacket(network, address)
	if err != nil {
		t.Fatalf("activationtest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return Socket{Name: name, PacketConn: c}
}

// SocketPath returns a path for a unix socket called name, in a new
// directory that a cleanup removes. The directory is made under
// os.TempDir, or /tmp when that would make the path too long, with a short
// name: a socket path is limited to the size of the kernel's sun_path less
// one byte (107 bytes on Linux, 103 on macOS and the BSDs), and
// t.TempDir's paths, named after the test, can be longer. A path that
// would still be too long fails the test.
func SocketPath(t testing.TB, name string) string {
	t.Helper()
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(parent, "sock")
		if err != nil {
			t.Fatalf("activationtest: %v", err)
		}
		if path := filepath.Join(dir, name); len(path) <= maxSocketPath {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return path
		}
		os.Remove(dir)
	}
	t.Fatalf("activationtest: a socket path for %q under /tmp would be more than the %d bytes allowed here", name, maxSocketPath)
	return ""
}
