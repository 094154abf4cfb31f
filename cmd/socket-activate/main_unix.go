//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// shimEnv marks a process started by socket-activate as the shim: it
// sets LISTEN_PID to its own pid and executes the program in its place.
// The variable is removed before the program runs.
const shimEnv = "SOCKET_ACTIVATE_SHIM"

func main() {
	if os.Getenv(shimEnv) != "" {
		os.Exit(shim(os.Args, os.Environ()))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// shim replaces the process by the program, keeping its pid, so that
// LISTEN_PID can name the program although Go cannot set the environment
// between fork and exec. It sets LISTEN_PID unless the environment has it
// already (from -E, which wins). args is [self, path, argv0, args...].
// shim returns only when the program cannot be executed, with the shell's
// status for it.
func shim(args, environ []string) int {
	if len(args) < 3 {
		fmt.Fprintf(os.Stderr, "socket-activate: %s set but no program given\n", shimEnv)
		return 127
	}
	env := make([]string, 0, len(environ)+1)
	pid := true
	for _, kv := range environ {
		if strings.HasPrefix(kv, shimEnv+"=") {
			continue
		}
		pid = pid && !strings.HasPrefix(kv, "LISTEN_PID=")
		env = append(env, kv)
	}
	if pid {
		env = append(env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	}
	err := syscall.Exec(args[1], args[2:], env)
	fmt.Fprintf(os.Stderr, "socket-activate: cannot run %q: %v\n", args[1], os.NewSyscallError("execve", err))
	if errors.Is(err, syscall.ENOENT) {
		return 127
	}
	return 126
}

// run is the command: it parses args, sets up the sockets and runs the
// program. It returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return 1
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if o.version {
		fmt.Fprintln(stdout, version())
		return 0
	}
	// The fds passed in first: the check that they were inherited needs
	// them not close-on-exec.
	passed, err := takePassedFDs()
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return 1
	}
	markInheritedCloseOnExec()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	a, err := newActivator(o, passed, stderr, sigs)
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return 1
	}
	defer a.close()
	if o.accept {
		return a.acceptLoop()
	}
	return a.serve()
}

// lookProgram resolves the program like execvp does, through PATH.
func lookProgram(name string) (string, error) {
	path, err := exec.LookPath(name)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("program not found: %q is not in PATH or not executable", name)
	case errors.Is(err, exec.ErrDot):
		return "", fmt.Errorf("program not found: %q is only in the current directory; write ./%s", name, name)
	case err != nil:
		return "", fmt.Errorf("program not found: %w", err)
	}
	return path, nil
}

// version returns the module and version the command was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return "socket-activate " + bi.Main.Path + " " + bi.Main.Version
	}
	return "socket-activate (version unknown)"
}

// exitStatus returns the status a shell would report for a finished
// process: its exit code, or 128 plus the signal that killed it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// commandLine returns argv as a shell would read it back.
func commandLine(argv []string) string {
	quoted := make([]string, len(argv))
	for i, arg := range argv {
		quoted[i] = arg
		if arg == "" || strings.Trim(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-") != "" {
			quoted[i] = strconv.Quote(arg)
		}
	}
	return strings.Join(quoted, " ")
}
