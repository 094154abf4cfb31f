//go:build unix

package activationtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// shimArg, as the first argument of a program that imports this package,
// makes it the shim: "exe shimArg path args…" sets LISTEN_PID to its own
// pid and execs path with args in its place, keeping the pid.
const shimArg = "-activationtest.shim"

// A shell would set LISTEN_PID as easily, but dash, Debian's /bin/sh,
// drops every variable whose name is not a shell identifier (A.B,
// FOO-BAR) and sets PWD, IFS, PPID and OPTIND itself.
// The shim passes the environment exec gave it on unchanged, as a service
// manager does.
func init() {
	if len(os.Args) >= 3 && os.Args[1] == shimArg {
		shim(os.Args[2], os.Args[2:])
	}
}

// shim execs path with argv and the process's environment, with LISTEN_PID
// set to the process's pid. It returns only by exiting, with status 127
// if path does not exist and 126 if it cannot be run, as sh does.
func shim(path string, argv []string) {
	pid := "LISTEN_PID=" + strconv.Itoa(os.Getpid())
	env := os.Environ()
	set := false
	for i, kv := range env {
		if strings.HasPrefix(kv, "LISTEN_PID=") {
			env[i], set = pid, true
		}
	}
	if !set {
		env = append(env, pid)
	}
	err := syscall.Exec(path, argv, env)
	fmt.Fprintf(os.Stderr, "activationtest: exec %s: %v\n", path, err)
	if errors.Is(err, fs.ErrNotExist) {
		os.Exit(127)
	}
	os.Exit(126)
}

// maxSocketPath is the longest path a unix socket can be bound to here:
// sun_path less its terminating NUL.
const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

func command(sockets []Socket, name string, args []string) (*exec.Cmd, error) {
	if len(sockets) == 0 {
		cmd := exec.Command(name, args...)
		if cmd.Err != nil {
			return nil, fmt.Errorf("activationtest: %w", cmd.Err)
		}
		cmd.Env = environ()
		return cmd, nil
	}
	path := name
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("activationtest: %w", err)
		}
		path = p
	}
	self, err := os.Executable()
	if err == nil {
		// A relative path would be read from cmd.Dir.
		self, err = filepath.Abs(self)
	}
	if err != nil {
		return nil, fmt.Errorf("activationtest: finding this program, which sets LISTEN_PID: %w", err)
	}
	files := make([]*os.File, 0, len(sockets))
	names := make([]string, 0, len(sockets))
	for i, s := range sockets {
		f, err := s.copy()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("activationtest: socket %d (%q): %w", i, s.Name, err)
		}
		files = append(files, f)
		names = append(names, escapeName(s.Name))
	}
	cmd := exec.Command(self, append([]string{shimArg, path}, args...)...)
	cmd.ExtraFiles = files
	cmd.Env = append(environ(),
		"LISTEN_FDS="+strconv.Itoa(len(files)),
		"LISTEN_FDNAMES="+strings.Join(names, ":"),
	)
	return cmd, nil
}

// environ returns the process's environment without LISTEN_* variables.
func environ() []string {
	env := os.Environ()
	kept := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LISTEN_") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// escapeName writes name as one LISTEN_FDNAMES entry: "unknown" for "", a
// backslash before each ":" and "\".
func escapeName(name string) string {
	if name == "" {
		return "unknown"
	}
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(name)
}

// copy returns a new *os.File for the socket s, owned by the caller.
func (s Socket) copy() (*os.File, error) {
	var conn any
	var name string
	set := 0
	if s.Listener != nil {
		conn, name = s.Listener, s.Listener.Addr().Network()+":"+s.Listener.Addr().String()
		set++
	}
	if s.PacketConn != nil {
		conn, name = s.PacketConn, s.PacketConn.LocalAddr().Network()+":"+s.PacketConn.LocalAddr().String()
		set++
	}
	if s.File != nil {
		conn, name = s.File, s.File.Name()
		set++
	}
	if set != 1 {
		return nil, errors.New("exactly one of Listener, PacketConn and File must be set")
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no SyscallConn method", conn)
	}
	return dup(sc, name)
}

// dup returns a close-on-exec copy of the fd of c, owned by the caller.
//
// The copy is made here rather than with the File method of package net,
// whose result turns the socket to blocking mode when exec passes it on: the
// mode belongs to the socket, not the fd, and the parent's listener would
// stop honouring deadlines.
func dup(c syscall.Conn, name string) (*os.File, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	err = rc.Control(func(old uintptr) {
		// Hold ForkLock so that no child started meanwhile inherits the
		// copy before it is marked close-on-exec.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		fd, dupErr = syscall.Dup(int(old))
		if dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	if err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("dup", dupErr)
	}
	return os.NewFile(uintptr(fd), name), nil
}
