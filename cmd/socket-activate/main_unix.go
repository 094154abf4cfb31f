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
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// shimEnv marks a process started by socket-activate as the shim, which
// executes the program in its place (the pid stays the same) after doing
// what its value lists, separated by commas. A variable's name
// (LISTEN_PID, WATCHDOG_PID) sets that variable to the shim's pid, the
// program's, unless the environment has it already (from -E, which
// wins), as Go cannot set the environment between fork and exec;
// shimDefaultSignals starts the program with SIGHUP and SIGINT at their
// default action, as systemd-socket-activate starts its --accept programs
// even when it ignores them; shimParentDeath=SIG:PID keeps the signal
// number SIG for the program to get when socket-activate, of pid PID,
// dies (see keepDeathSignal). The variable is removed before the program
// runs.
const (
	shimEnv            = "SOCKET_ACTIVATE_SHIM"
	shimDefaultSignals = "default-signals"
	shimParentDeath    = "parent-death"
)

func main() {
	if os.Getenv(shimEnv) != "" {
		os.Exit(shim(os.Args, os.Environ()))
	}
	exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// shim replaces the process by the program as shimEnv says. args is
// [self, path, argv0, args...]. shim returns only when the program cannot
// be executed, with the shell's status for it.
func shim(args, environ []string) int {
	if len(args) < 3 {
		fmt.Fprintf(os.Stderr, "socket-activate: %s set but no program given\n", shimEnv)
		return 127
	}
	env := make([]string, 0, len(environ)+2)
	var todo []string
	set := map[string]bool{}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, shimEnv+"="); ok {
			todo = strings.Split(v, ",")
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
		env = append(env, kv)
	}
	for _, key := range todo {
		if death, ok := strings.CutPrefix(key, shimParentDeath+"="); ok {
			sig, parent, _ := strings.Cut(death, ":")
			n, err1 := strconv.Atoi(sig)
			ppid, err2 := strconv.Atoi(parent)
			if err1 == nil && err2 == nil && !keepDeathSignal(syscall.Signal(n), ppid) {
				// socket-activate is gone: the program must not start.
				return 128 + n
			}
			continue
		}
		if assignableName(key) && !set[key] {
			env = append(env, key+"="+strconv.Itoa(os.Getpid()))
		}
	}
	if slices.Contains(todo, shimDefaultSignals) {
		// Catching them replaces an ignored disposition, and exec gives
		// caught signals their default action.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT)
	}
	err := syscall.Exec(args[1], args[2:], env)
	if errors.Is(err, syscall.ENOEXEC) {
		// A file the system cannot execute, such as a script without
		// "#!", runs with the shell, as execvp(3) runs it.
		err = syscall.Exec(shell, append([]string{shell, args[1]}, args[3:]...), env)
	}
	fmt.Fprintf(os.Stderr, "socket-activate: cannot run %q: %v\n", args[1], os.NewSyscallError("execve", err))
	if errors.Is(err, syscall.ENOENT) {
		return 127
	}
	return 126
}

// run is the command: it parses args, sets up the sockets and runs the
// program. It returns how socket-activate ends.
func run(args []string, stdout, stderr io.Writer) ending {
	o, err := parseArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return exitCode(1)
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return exitCode(0)
	}
	if o.version {
		fmt.Fprintln(stdout, version())
		return exitCode(0)
	}
	// The fds passed in first: the check that they were inherited needs
	// them not close-on-exec.
	passed, err := takePassedFDs(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return exitCode(1)
	}
	markInheritedCloseOnExec()
	sigs := make(chan os.Signal, 4)
	catchSignals(sigs)
	defer signal.Stop(sigs)
	a, err := newActivator(o, passed, stderr, sigs)
	if err != nil {
		fmt.Fprintf(stderr, "socket-activate: %v\n", err)
		return exitCode(1)
	}
	defer a.close()
	if o.accept {
		return a.acceptLoop()
	}
	return a.serve()
}

// shell runs the files the system cannot execute, as execvp(3) runs them.
const shell = "/bin/sh"

// lookProgram resolves the program as execvp(3) does: a name with a slash
// as it is, another through PATH, where "." or an empty entry stands for
// the current directory.
func lookProgram(name string) (string, error) {
	path, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrDot) {
		// Found through such an entry, as execvp finds it.
		err = nil
		if !strings.Contains(path, "/") {
			path = "./" + path
		}
	}
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("program not found: %q is not in PATH or not executable", name)
	case err != nil:
		return "", fmt.Errorf("program not found: %w", err)
	}
	return path, nil
}

// startProgram starts cmd and returns what runs: cmd, or for a file the
// system cannot execute (ENOEXEC), such as a script without "#!", the
// shell with the file as its script and the arguments after it, as
// execvp(3) runs it.
func startProgram(cmd *exec.Cmd) (*exec.Cmd, error) {
	err := cmd.Start()
	if !errors.Is(err, syscall.ENOEXEC) {
		return cmd, err
	}
	sh := &exec.Cmd{
		Path:        shell,
		Args:        append([]string{shell, cmd.Path}, cmd.Args[1:]...),
		Env:         cmd.Env,
		Stdin:       cmd.Stdin,
		Stdout:      cmd.Stdout,
		Stderr:      cmd.Stderr,
		ExtraFiles:  cmd.ExtraFiles,
		SysProcAttr: cmd.SysProcAttr,
	}
	return sh, sh.Start()
}

// version returns the module and version the command was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return "socket-activate " + bi.Main.Path + " " + bi.Main.Version
	}
	return "socket-activate (version unknown)"
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
