//go:build unix

package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
	"golang.org/x/sys/unix"
)

// pick returns the entries of env for keys, "(unset)" for those missing.
func pick(env map[string]string, keys ...string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		v, ok := env[k]
		if !ok {
			v = "(unset)"
		}
		m[k] = v
	}
	return m
}

func TestLongOptionsAbbreviateAsGetoptLongDoes(t *testing.T) {
	dir := shortTempDir(t)
	errorCases := []struct {
		name string
		args []string
		want string // after "NAME: "
	}{
		{"an abbreviation of two options is ambiguous", []string{"--se", "prog"}, "option '--se' is ambiguous; possibilities: '--seqpacket' '--setenv'"},
		{"an ambiguous abbreviation lists systemd-socket-activate's options", []string{"--s", "prog"}, "option '--s' is ambiguous; possibilities: '--seqpacket' '--setenv'"},
		{"an unknown option is quoted with its value", []string{"--bogus=1", "prog"}, "unrecognized option '--bogus=1'"},
		{"a value for an abbreviated flag names the flag in full", []string{"--acc=1", "prog"}, "option '--accept' doesn't allow an argument"},
		{"an abbreviation without its value names the option in full", []string{"--fdn"}, "option '--fdname' requires an argument"},
		{"an unknown letter", []string{"-x", "prog"}, "invalid option -- 'x'"},
		{"a letter without its value", []string{"-l"}, "option requires an argument -- 'l'"},
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for _, tt := range errorCases {
				t.Run(tt.name, func(t *testing.T) {
					p := a.start(t, tt.args...)
					if code := p.exitCode(t); code != 1 {
						t.Errorf("exit status %d, want 1", code)
					}
					waitEOF(t, p.stderr)
					if got, want := p.stderr.Text(), a.name+": "+tt.want; got != want {
						t.Errorf("stderr\n%s\nwant\n%s", got, want)
					}
				})
			}
			t.Run("unique abbreviations select the options", func(t *testing.T) {
				sock := a.sockPath(dir, "abbr")
				p := a.start(t, append([]string{"--list=" + sock, "--fdn=web", "--env=SA_ENV=abbreviated"}, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				v := readView(t, p)
				want := map[string]string{"LISTEN_FDS": "1", "LISTEN_FDNAMES": "web", "LISTEN_PID": "self", "SA_ENV": "abbreviated"}
				if d := diff(want, pick(v.Env, "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "SA_ENV")); d != "" {
					t.Errorf("program's environment:\n%s", d)
				}
			})
			t.Run("--acc accepts each connection", func(t *testing.T) {
				sock := a.sockPath(dir, "acc")
				p := a.start(t, append([]string{"--acc", "--fdn=x", "-l", sock}, helperArgs(t, "conn")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				answer, err := request("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`^pid=\d+ fds=1 names=x remote=: fd3=stream inherited=\[3\]\n$`).MatchString(answer) {
					t.Errorf("answer %q, want pid=PID fds=1 names=x remote=: fd3=stream inherited=[3]", strings.TrimSpace(answer))
				}
			})
		})
	}
}

func TestOnlyTheSocketsReachTheProgram(t *testing.T) {
	dir := shortTempDir(t)
	// An fd the activator inherits without being told of it, as a shell's
	// 7</etc/hostname passes one: fd 7.
	f, err := os.Create(filepath.Join(dir, "hostname"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := []*os.File{nil, nil, nil, nil, f}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("the program gets fd 3 and no fd 7", func(t *testing.T) {
				sock := a.sockPath(dir, "only")
				p := a.startWith(t, files, append([]string{"-l", sock}, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				if d := diff([]string{"3 stream " + sock}, readView(t, p).FDs); d != "" {
					t.Errorf("the program's fds from 3 up:\n%s", d)
				}
			})
			t.Run("each --accept program gets fd 3 and no fd 7", func(t *testing.T) {
				sock := a.sockPath(dir, "acc")
				p := a.startWith(t, files, append([]string{"-a", "-l", sock}, helperArgs(t, "conn")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				for i := range 2 {
					answer, err := request("unix", sock)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasSuffix(answer, " inherited=[3]\n") {
						t.Errorf("program %d: %q, want it to end inherited=[3]", i+1, answer)
					}
				}
			})
		})
	}
}

func TestFDsPassedInArePassedOnFirst(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			in0, in1 := a.sockPath(dir, "in0"), a.sockPath(dir, "in1")
			passed := []*os.File{listenUnix(t, in0), listenUnix(t, in1)}
			own := a.sockPath(dir, "own")
			tests := []struct {
				name  string
				args  []string
				dial  string
				fds   []string
				names map[string]string // LISTEN_FDNAMES by activator
			}{{
				name:  "before the -l sockets, keeping their names",
				args:  []string{"-l", own},
				dial:  in1,
				fds:   []string{"3 stream " + in0, "4 stream " + in1, "5 stream " + own},
				names: map[string]string{"socket-activate": "in0:in1:unknown", "systemd-socket-activate": "(unset)"},
			}, {
				name:  "named by --fdname with their count",
				args:  []string{"-l", own, "--fdname=a:b:c"},
				dial:  own,
				fds:   []string{"3 stream " + in0, "4 stream " + in1, "5 stream " + own},
				names: map[string]string{"socket-activate": "a:b:c", "systemd-socket-activate": "a:b:c"},
			}, {
				name:  "without -l",
				dial:  in0,
				fds:   []string{"3 stream " + in0, "4 stream " + in1},
				names: map[string]string{"socket-activate": "in0:in1", "systemd-socket-activate": "(unset)"},
			}, {
				name:  "without -l, with --datagram, which only types -l sockets",
				args:  []string{"-d"},
				dial:  in0,
				fds:   []string{"3 stream " + in0, "4 stream " + in1},
				names: map[string]string{"socket-activate": "in0:in1", "systemd-socket-activate": "(unset)"},
			}, {
				name:  "without -l, with --seqpacket",
				args:  []string{"--seqpacket"},
				dial:  in1,
				fds:   []string{"3 stream " + in0, "4 stream " + in1},
				names: map[string]string{"socket-activate": "in0:in1", "systemd-socket-activate": "(unset)"},
			}}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					p := a.startPassing(t, passed, []string{"in0", "in1"}, append(tt.args, helperArgs(t, "view")...)...)
					p.stderr.Wait(t, "^Received 2 descriptors via the environment.$", 1)
					p.stderr.Wait(t, "istening on ", len(tt.fds))
					if _, err := request("unix", tt.dial); err != nil {
						t.Fatal(err)
					}
					v := readView(t, p)
					if d := diff(tt.fds, v.FDs); d != "" {
						t.Errorf("the program's fds:\n%s", d)
					}
					want := map[string]string{"LISTEN_FDS": strconv.Itoa(len(tt.fds)), "LISTEN_PID": "self", "LISTEN_FDNAMES": tt.names[a.name]}
					if d := diff(want, pick(v.Env, "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")); d != "" {
						t.Errorf("the program's environment:\n%s", d)
					}
				})
			}
			t.Run("--accept accepts on them too", func(t *testing.T) {
				p := a.startPassing(t, passed, nil, append([]string{"-a", "--fdname=x", "-l", own}, helperArgs(t, "conn")...)...)
				p.stderr.Wait(t, "istening on ", 3)
				for _, sock := range []string{in0, own, in1} {
					answer, err := request("unix", sock)
					if err != nil {
						t.Fatalf("connection to %s: %v", sock, err)
					}
					if !regexp.MustCompile(`^pid=\d+ fds=1 names=x remote=: fd3=stream inherited=\[3\]\n$`).MatchString(answer) {
						t.Errorf("connection to %s: answer %q", sock, answer)
					}
				}
			})
		})
	}
}

func TestSetenvWinsOverWhatTheActivatorSets(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("LISTEN_* and TERM", func(t *testing.T) {
				sock := a.sockPath(dir, "env")
				p := a.start(t, append([]string{"-l", sock, "--fdname=web", "-E", "LISTEN_FDNAMES=x", "-E", "LISTEN_PID=1",
					"-E", "LISTEN_FDS=9", "-E", "TERM=dumb", "-E", "HOME=/elsewhere"}, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				v := readView(t, p)
				want := map[string]string{"LISTEN_FDNAMES": "x", "LISTEN_PID": "1", "LISTEN_FDS": "9", "TERM": "dumb", "HOME": "/elsewhere"}
				if d := diff(want, pick(v.Env, "LISTEN_FDNAMES", "LISTEN_PID", "LISTEN_FDS", "TERM", "HOME")); d != "" {
					t.Errorf("the program's environment:\n%s", d)
				}
				if d := diff([]string{"3 stream " + sock}, v.FDs); d != "" {
					t.Errorf("the program's fds:\n%s", d)
				}
			})
			t.Run("with --accept", func(t *testing.T) {
				sock := a.sockPath(dir, "acc")
				p := a.start(t, append([]string{"-a", "-l", sock, "-E", "LISTEN_FDNAMES=x", "-E", "REMOTE_ADDR=given"}, helperArgs(t, "conn")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				answer, err := request("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`^pid=\d+ fds=1 names=x remote=given: fd3=stream inherited=\[3\]\n$`).MatchString(answer) {
					t.Errorf("answer %q, want names=x remote=given:", answer)
				}
			})
		})
	}
}

func TestSetenvWinsOverNotifySocket(t *testing.T) {
	p := startProc(t, append([]string{"--notify", "--now", "-l", filepath.Join(shortTempDir(t), "s"), "-E", "NOTIFY_SOCKET=/given"}, helperArgs(t, "view")...)...)
	if got := readView(t, p).Env["NOTIFY_SOCKET"]; got != "/given" {
		t.Errorf("NOTIFY_SOCKET=%q, want the -E value /given", got)
	}
}

func TestUnixSocketFilesGetTheSameModeUnderAnyUmask(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for _, umask := range []string{"000", "077", "022"} {
				t.Run("umask "+umask+" gives 0644", func(t *testing.T) {
					sock := a.sockPath(dir, "m"+umask)
					p := a.startShell(t, "umask "+umask+`; exec "$0" "$@"`, nil, nil, append([]string{"-l", sock}, helperArgs(t, "view")...)...)
					p.stderr.Wait(t, "istening on ", 1)
					if fi, err := os.Lstat(sock); err != nil || fi.Mode() != os.ModeSocket|0o644 {
						t.Errorf("socket file: %v, %v; want a socket with mode 0644", fi.Mode(), err)
					}
				})
			}
			for _, umask := range []string{"022", "077", "000"} {
				t.Run("missing directories are made, 0755 under umask "+umask, func(t *testing.T) {
					sock := filepath.Join(a.sockPath(dir, "d"+umask), "sub", "s")
					p := a.startShell(t, "umask "+umask+`; exec "$0" "$@"`, nil, nil, append([]string{"-l", sock}, helperArgs(t, "view")...)...)
					p.stderr.Wait(t, "istening on ", 1)
					for _, d := range []string{filepath.Dir(sock), filepath.Dir(filepath.Dir(sock))} {
						if fi, err := os.Stat(d); err != nil || fi.Mode() != os.ModeDir|0o755 {
							t.Errorf("%s: %v, %v; want a directory with mode 0755", d, fi.Mode(), err)
						}
					}
				})
			}
			t.Run("a directory that exists keeps its mode", func(t *testing.T) {
				d := a.sockPath(dir, "kept")
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
				p := a.start(t, append([]string{"-l", filepath.Join(d, "s")}, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if fi, err := os.Stat(d); err != nil || fi.Mode() != os.ModeDir|0o700 {
					t.Errorf("%s: %v, %v; want it left with mode 0700", d, fi.Mode(), err)
				}
			})
		})
	}
	t.Run("--socket-mode chooses another mode", func(t *testing.T) {
		sock := filepath.Join(dir, "m0600")
		p := ours.startShell(t, `umask 000; exec "$0" "$@"`, nil, nil, append([]string{"--socket-mode=0600", "-l", sock}, helperArgs(t, "view")...)...)
		p.stderr.Wait(t, "istening on ", 1)
		if fi, err := os.Lstat(sock); err != nil || fi.Mode() != os.ModeSocket|0o600 {
			t.Errorf("socket file: %v, %v; want a socket with mode 0600", fi.Mode(), err)
		}
	})
}

func TestTheSameLinesAsSystemdSocketActivate(t *testing.T) {
	dir := shortTempDir(t)
	helper := helperArgs(t, "view")
	exe := helper[len(helper)-1]
	execing := "Execing " + exe + " (" + exe + ")"
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("listening, the first connection and the program's start", func(t *testing.T) {
				sock := a.sockPath(dir, "lines")
				p, addr := a.startOnFreePort(t, func(addr string) []string {
					return append([]string{"-l", addr, "-l", sock}, helperArgs(t, "view")...)
				})
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				readView(t, p)
				want := []string{
					"Listening on " + addr + " as 3.",
					"Listening on " + sock + " as 4.",
					"Communication attempt on fd 4.",
					execing,
				}
				p.stderr.Wait(t, "^Execing ", 1)
				if got := stderrLines(p); !slices.Equal(got, want) {
					t.Errorf("stderr (-want +got):\n%s", restarttest.Diff(want, got))
				}
			})
			t.Run("--accept: each connection and its program", func(t *testing.T) {
				sock := a.sockPath(dir, "acc")
				p, addr := a.startOnFreePort(t, func(addr string) []string {
					return append([]string{"-a", "-l", addr, "-l", sock}, helperArgs(t, "conn")...)
				})
				c, err := net.DialTimeout("tcp", addr, timeout)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(timeout))
				if _, err := io.WriteString(c, "hello\n"); err != nil {
					t.Fatal(err)
				}
				if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				c.Close()
				p.stderr.Wait(t, `^Child \d+ died with code 0$`, 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				p.stderr.Wait(t, `^Child \d+ died with code 0$`, 2)
				peer := "n/a"
				if runtime.GOOS == "linux" {
					peer = fmt.Sprintf("PID N/UID %d", os.Getuid())
				}
				want := []string{
					"Listening on " + addr + " as 3.",
					"Listening on " + sock + " as 4.",
					"Communication attempt on fd 3.",
					"Connection from " + c.LocalAddr().String() + " to " + addr,
					"Spawned " + exe + " (" + exe + ") as PID N.",
					execing,
					"Child N died with code 0",
					"Communication attempt on fd 4.",
					"Connection from " + peer + " to " + sock,
					"Spawned " + exe + " (" + exe + ") as PID N.",
					execing,
					"Child N died with code 0",
				}
				got := stderrLines(p)
				// systemd-socket-activate's child says Execing while its
				// parent says Spawned: either may come first.
				for i := 0; i+1 < len(got); i++ {
					if strings.HasPrefix(got[i], "Execing ") && strings.HasPrefix(got[i+1], "Spawned ") {
						got[i], got[i+1] = got[i+1], got[i]
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("stderr (-want +got):\n%s", restarttest.Diff(want, got))
				}
			})
		})
	}
}

func TestNamesAreCheckedAtStart(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("--accept without --fdname gives no warning", func(t *testing.T) {
				sock := a.sockPath(dir, "acc")
				p := a.start(t, append([]string{"-a", "-l", sock}, helperArgs(t, "conn")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				p.stderr.Wait(t, `^Child \d+ died with code 0$`, 1)
				if text := p.stderr.Text(); strings.Contains(strings.ToLower(text), "warning") || strings.Contains(text, "different") {
					t.Errorf("stderr warns:\n%s", text)
				}
			})
			t.Run("three names for two sockets", func(t *testing.T) {
				s1, s2 := a.sockPath(dir, "n1"), a.sockPath(dir, "n2")
				p := a.start(t, append([]string{"-l", s1, "-l", s2, "--fdname=a:b:c"}, helperArgs(t, "view")...)...)
				if a == ours {
					// Refused at start, on purpose: every program that reads
					// LISTEN_FDNAMES as libsystemd does would fail.
					if code := p.exitCode(t); code != 1 {
						t.Errorf("exit status %d, want 1", code)
					}
					waitEOF(t, p.stderr)
					want := "socket-activate: --fdname gives 3 names for 2 sockets: give one name for each socket, in order, or one for all; a program would refuse a LISTEN_FDNAMES that does not name each fd (see --help)"
					if got := p.stderr.Text(); got != want {
						t.Errorf("stderr\n%s\nwant\n%s", got, want)
					}
					if _, err := os.Lstat(s1); !os.IsNotExist(err) {
						t.Errorf("socket file %s made before the refusal (Lstat: %v)", s1, err)
					}
					return
				}
				// systemd-socket-activate warns and passes them.
				p.stderr.Wait(t, "istening on ", 2)
				if _, err := request("unix", s1); err != nil {
					t.Fatal(err)
				}
				v := readView(t, p)
				p.stderr.Wait(t, "^The number of fd names is different than number of fds: 3 vs 2$", 1)
				if d := diff(map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b:c"}, pick(v.Env, "LISTEN_FDS", "LISTEN_FDNAMES")); d != "" {
					t.Errorf("the program's environment:\n%s", d)
				}
			})
		})
	}
}

// howEnded says how p's process ended: "exit N" or "signal NAME".
func howEnded(t *testing.T, p *proc) string {
	t.Helper()
	p.exitCode(t)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", p.cmd.ProcessState.ExitCode())
}

func TestExitStatusesAsSystemdSocketActivate(t *testing.T) {
	dir := shortTempDir(t)
	type exitCase struct {
		name    string
		args    []string // before -l SOCK
		helper  string
		program []string // instead of a helper: a program that Go cannot be, one that dies of SIGUSR1
		env     string   // SA_TEST_CODE
		// act does what the case is about, given the socket's path.
		act  func(t *testing.T, p *proc, sock string)
		want string // how the activator ends
		// ours, if set, is how socket-activate ends instead where a Go
		// program cannot die of every signal (!diesOfAnySignal): with the
		// status a shell reports alike.
		ours string
	}
	connect := func(t *testing.T, p *proc, sock string) { dialUnix(t, sock) }
	// acceptThenSignal connects, waits for the --accept program's first
	// line, signals the activator and wants the program to say it got
	// SIGTERM.
	acceptThenSignal := func(sig syscall.Signal) func(*testing.T, *proc, string) {
		return func(t *testing.T, p *proc, sock string) {
			r := bufio.NewReader(dialUnix(t, sock))
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			p.signal(t, sig)
			if line, err := r.ReadString('\n'); line != "got terminated\n" {
				t.Errorf("the program said %q, %v; want \"got terminated\"", line, err)
			}
		}
	}
	signalAfter := func(sig syscall.Signal, line string) func(*testing.T, *proc, string) {
		return func(t *testing.T, p *proc, sock string) {
			if line != "" {
				connect(t, p, sock)
				p.stdout.Wait(t, "^"+line+"$", 1)
			}
			p.signal(t, sig)
		}
	}
	tests := []exitCase{
		{name: "SIGTERM while waiting for the first connection", helper: "signal", act: signalAfter(syscall.SIGTERM, ""), want: "signal terminated"},
		{name: "SIGINT while waiting for the first connection", helper: "signal", act: signalAfter(syscall.SIGINT, ""), want: "signal interrupt"},
		{name: "SIGHUP while waiting for the first connection", helper: "signal", act: signalAfter(syscall.SIGHUP, ""), want: "signal hangup"},
		{name: "the program's exit status", helper: "exit", env: "7", act: connect, want: "exit 7"},
		{name: "a program killed by SIGKILL", helper: "kill-self", env: strconv.Itoa(int(syscall.SIGKILL)), act: connect, want: "signal killed"},
		{name: "a program killed by SIGUSR1", program: []string{"/bin/sh", "-c", "kill -USR1 $$"}, act: connect,
			want: "signal user defined signal 1", ours: fmt.Sprintf("exit %d", 128+syscall.SIGUSR1)},
		{name: "SIGTERM reaches the program, which exits 42", helper: "signal", act: signalAfter(syscall.SIGTERM, "waiting"), want: "exit 42"},
		{name: "SIGINT reaches the program, which exits 42", helper: "signal", act: signalAfter(syscall.SIGINT, "waiting"), want: "exit 42"},
		{name: "SIGHUP reaches the program, which exits 42", helper: "signal", act: signalAfter(syscall.SIGHUP, "waiting"), want: "exit 42"},
		{name: "SIGTERM kills a program that does not catch it", helper: "sleep", act: signalAfter(syscall.SIGTERM, "waiting"), want: "signal terminated"},
		{name: "SIGUSR1 reaches the program", program: []string{"/bin/sh", "-c", "echo waiting; exec sleep 60"}, act: signalAfter(syscall.SIGUSR1, "waiting"),
			want: "signal user defined signal 1", ours: fmt.Sprintf("exit %d", 128+syscall.SIGUSR1)},
		{name: "--accept: SIGTERM with no connection", args: []string{"-a"}, helper: "conn-hold", act: signalAfter(syscall.SIGTERM, ""), want: "signal terminated"},
		{name: "--accept: SIGINT with no connection", args: []string{"-a"}, helper: "conn-hold", act: signalAfter(syscall.SIGINT, ""), want: "signal interrupt"},
		{name: "--accept: SIGTERM ends the programs running, with SIGTERM", args: []string{"-a"}, helper: "conn-hold",
			act:  acceptThenSignal(syscall.SIGTERM),
			want: "signal terminated"},
		{name: "--accept: SIGHUP", args: []string{"-a"}, helper: "conn-hold", act: signalAfter(syscall.SIGHUP, ""), want: "signal hangup"},
		{name: "--accept: SIGALRM ends the programs running, with SIGTERM", args: []string{"-a"}, helper: "conn-hold",
			act:  acceptThenSignal(syscall.SIGALRM),
			want: "signal alarm clock", ours: fmt.Sprintf("exit %d", 128+syscall.SIGALRM)},
		{name: "SIGWINCH reaches the program", program: []string{"/bin/sh", "-c", `trap "exit 7" WINCH; echo waiting; sleep 60 & wait`},
			act: signalAfter(syscall.SIGWINCH, "waiting"), want: "exit 7"},
		{name: "SIGWINCH while waiting for the first connection is ignored", program: []string{"/bin/sh", "-c", "exit 5"},
			act: func(t *testing.T, p *proc, sock string) {
				p.signal(t, syscall.SIGWINCH)
				connect(t, p, sock)
			},
			want: "exit 5"},
	}
	// The other signals that end systemd-socket-activate, which is the
	// program: socket-activate passes them on, and ends of them while no
	// program runs.
	for _, sig := range append([]syscall.Signal{syscall.SIGALRM, syscall.SIGVTALRM, syscall.SIGXCPU, syscall.SIGXFSZ}, moreCaught...) {
		name, dies, ours := unix.SignalName(sig), "signal "+sig.String(), fmt.Sprintf("exit %d", 128+sig)
		tests = append(tests,
			exitCase{name: name + " while waiting for the first connection", helper: "signal", act: signalAfter(sig, ""), want: dies, ours: ours},
			exitCase{name: name + " kills a program that does not catch it", program: []string{"/bin/sh", "-c", "echo waiting; exec sleep 60"},
				act: signalAfter(sig, "waiting"), want: dies, ours: ours})
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					sock := a.sockPath(dir, strconv.Itoa(i))
					program := tt.program
					if program == nil {
						program = helperArgs(t, tt.helper)
					}
					args := append(append(tt.args, "-l", sock, "-E", codeEnv+"="+tt.env), program...)
					// SIGXCPU and SIGXFSZ dump core.
					p := a.startShell(t, `ulimit -c 0; exec "$0" "$@"`, nil, nil, args...)
					p.stderr.Wait(t, "istening on ", 1)
					tt.act(t, p, sock)
					want := tt.want
					if a == ours && tt.ours != "" && !diesOfAnySignal {
						want = tt.ours
					}
					if got := howEnded(t, p); got != want {
						t.Errorf("%s ended: %s, want %s", a.name, got, want)
					}
				})
			}
		})
	}
}

func TestIgnoredSignalsStayIgnored(t *testing.T) {
	dir := shortTempDir(t)
	// As nohup ignores SIGHUP and a shell's & SIGINT.
	const ignore = `trap "" HUP INT; exec "$0" "$@"`
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("the program starts with them ignored, and the activator passes none on", func(t *testing.T) {
				sock := a.sockPath(dir, "ign")
				p := a.startShell(t, ignore, nil, nil, append([]string{"-l", sock}, helperArgs(t, "view-wait")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				dialUnix(t, sock)
				if d := diff([]string{"hangup", "interrupt"}, readView(t, p).Ignored); d != "" {
					t.Errorf("signals the program started with ignored:\n%s", d)
				}
				// Were either not ignored, by the activator or by the program,
				// one of them would end both before SIGTERM (the lowest
				// pending signal is delivered first).
				p.signal(t, syscall.SIGHUP)
				p.signal(t, syscall.SIGINT)
				p.signal(t, syscall.SIGTERM)
				if got := howEnded(t, p); got != "exit 0" {
					t.Errorf("%s ended: %s, want exit 0 (the program's, after SIGTERM)", a.name, got)
				}
				p.stdout.Wait(t, "^got terminated$", 1)
			})
			t.Run("while waiting for the first connection", func(t *testing.T) {
				sock := a.sockPath(dir, "ign-wait")
				p := a.startShell(t, ignore, nil, nil, append([]string{"-l", sock}, helperArgs(t, "view-wait")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				p.signal(t, syscall.SIGHUP)
				p.signal(t, syscall.SIGINT)
				p.signal(t, syscall.SIGTERM)
				if got := howEnded(t, p); got != "signal terminated" {
					t.Errorf("%s ended: %s, want signal terminated", a.name, got)
				}
			})
			t.Run("--accept programs get no variable but theirs", func(t *testing.T) {
				sock := a.sockPath(dir, "ign-env")
				p := a.startShell(t, ignore, nil, nil, append([]string{"-a", "-l", sock}, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				dialUnix(t, sock)
				var got []string
				for k := range readView(t, p).Env {
					if k != "LISTEN_FDNAMES" { // only socket-activate sets it
						got = append(got, k)
					}
				}
				want := []string{"GORACE", "LISTEN_FDS", "LISTEN_PID", helperEnv}
				for _, k := range []string{"TERM", "PATH", "USER", "HOME"} {
					if _, ok := os.LookupEnv(k); ok {
						want = append(want, k)
					}
				}
				if d := diff(sorted(want), sorted(got)); d != "" {
					t.Errorf("the program's variables:\n%s", d)
				}
			})
			t.Run("--accept programs start with the default actions", func(t *testing.T) {
				sock := a.sockPath(dir, "ign-acc")
				p := a.startShell(t, ignore, nil, nil, append([]string{"-a", "-l", sock}, helperArgs(t, "conn-hold")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				c := dialUnix(t, sock)
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`^pid \d+ ignored \[\]\n$`).MatchString(line) {
					t.Errorf("the program says %q, want it ignores nothing", line)
				}
				p.signal(t, syscall.SIGHUP)
				p.signal(t, syscall.SIGINT)
				p.signal(t, syscall.SIGTERM)
				if got := howEnded(t, p); got != "signal terminated" {
					t.Errorf("%s ended: %s, want signal terminated", a.name, got)
				}
			})
		})
	}
}

func TestProgramIsRunAsExecvpRunsIt(t *testing.T) {
	dir := shortTempDir(t)
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("sa-script", "#!/bin/sh\necho ran script $0 \"$@\"\n")
	// Without "#!" the system cannot execute it (ENOEXEC): execvp runs it
	// with /bin/sh.
	plain := write("sa-plain", "echo ran plain $0 \"$@\"\n")
	tests := []struct {
		name  string
		path  string // PATH, with DIR for the directory of the programs
		args  []string
		inetd bool   // run one program per connection with it on stdin and stdout
		want  string // what the program says
	}{
		{"a PATH entry . is the current directory", ".:$PATH", []string{"sa-script", "a"}, false, "ran script ./sa-script a"},
		{"an empty PATH entry is the current directory", "$PATH:", []string{"sa-script", "a"}, false, "ran script "},
		{"a script without #! runs with /bin/sh", "$PATH", []string{plain, "a", "b"}, false, "ran plain " + plain + " a b"},
		{"a script without #! found through PATH runs with /bin/sh", "DIR:$PATH", []string{"sa-plain", "a"}, false, "ran plain " + plain + " a"},
		{"a script without #! runs with /bin/sh on stdin and stdout", "$PATH", []string{plain, "a"}, true, "ran plain " + plain + " a"},
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					sock := a.sockPath(dir, strconv.Itoa(i))
					args := []string{"-l", sock}
					if tt.inetd {
						args = append(args, "-a", "--inetd")
					}
					script := `cd "` + dir + `" && PATH="` + strings.ReplaceAll(tt.path, "DIR", dir) + `" && exec "$0" "$@"`
					p := a.startShell(t, script, nil, nil, append(args, tt.args...)...)
					p.stderr.Wait(t, "istening on ", 1)
					c := dialUnix(t, sock)
					var got string
					if tt.inetd {
						var err error
						got, err = bufio.NewReader(c).ReadString('\n')
						if err != nil {
							t.Fatal(err)
						}
					} else {
						got = p.stdout.Wait(t, "^ran .*", 1)[0][0] + "\n"
					}
					if !strings.HasPrefix(got, tt.want) {
						t.Errorf("the program said %q, want it to start %q", got, tt.want)
					}
				})
			}
		})
	}
}

func TestFDNameIsSplitAsSystemdSplitsIt(t *testing.T) {
	dir := shortTempDir(t)
	tests := []struct {
		name    string
		sockets int
		fdnames []string // --fdname values
		want    string   // LISTEN_FDNAMES
	}{
		{"a trailing colon adds no name: one for every socket", 2, []string{"a:"}, "a:a"},
		{"two colons make one separator", 2, []string{"a::b"}, "a:b"},
		{"a leading colon adds no name", 1, []string{":a"}, "a"},
		{"a lone colon is one empty name", 1, []string{":"}, ""},
		{"an empty --fdname is one empty name", 2, []string{"a", ""}, "a:"},
		{"a backslash escapes nothing", 2, []string{`a\:b`}, `a\:b`},
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var args []string
					for j := range tt.sockets {
						args = append(args, "-l", a.sockPath(dir, fmt.Sprintf("%d-%d", i, j)))
					}
					for _, n := range tt.fdnames {
						args = append(args, "--fdname="+n)
					}
					p := a.start(t, append(args, helperArgs(t, "view")...)...)
					p.stderr.Wait(t, "istening on ", tt.sockets)
					if _, err := request("unix", a.sockPath(dir, fmt.Sprintf("%d-0", i))); err != nil {
						t.Fatal(err)
					}
					if got := pick(readView(t, p).Env, "LISTEN_FDNAMES")["LISTEN_FDNAMES"]; got != tt.want {
						t.Errorf("LISTEN_FDNAMES=%q, want %q", got, tt.want)
					}
				})
			}
			t.Run("--inetd passes no names, so their count does not matter", func(t *testing.T) {
				sock := a.sockPath(dir, "inetd")
				p := a.start(t, append([]string{"--inetd", "-l", sock, "--fdname=a:b"}, helperArgs(t, "inetd-listen")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				got, err := request("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				if want := "stdin is stream " + sock + ", LISTEN_FDS set: false\n"; got != want {
					t.Errorf("answer %q, want %q", got, want)
				}
			})
		})
	}
}

func TestNamesPassedInThatDoNotFitAreIgnored(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			in := a.sockPath(dir, "in")
			passed := []*os.File{listenUnix(t, in)}
			tests := []struct {
				name, names, warning string
			}{
				{"two names for one fd", "a:b", `socket-activate: warning: LISTEN_FDNAMES="a:b" names 2 fds but LISTEN_FDS is 1; the fds passed in are taken unnamed`},
				{"a lone trailing backslash", `a\`, `socket-activate: warning: LISTEN_FDNAMES="a\\" ends in a lone backslash; the fds passed in are taken unnamed`},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					p := a.startPassing(t, passed, []string{tt.names}, helperArgs(t, "view")...)
					p.stderr.Wait(t, "istening on ", 1)
					if _, err := request("unix", in); err != nil {
						t.Fatal(err)
					}
					v := readView(t, p)
					want := map[string]string{"socket-activate": "unknown", "systemd-socket-activate": "(unset)"}[a.name]
					if got := pick(v.Env, "LISTEN_FDNAMES")["LISTEN_FDNAMES"]; got != want {
						t.Errorf("LISTEN_FDNAMES=%q, want %q", got, want)
					}
					if d := diff([]string{"3 stream " + in}, v.FDs); d != "" {
						t.Errorf("the program's fds:\n%s", d)
					}
					if a == ours {
						p.stderr.Wait(t, "^"+regexp.QuoteMeta(tt.warning)+"$", 1)
					}
				})
			}
		})
	}
}

func TestConnectionsOnFDsPassedInAreNamedAfterThem(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			in0, in1 := a.sockPath(dir, "in0"), a.sockPath(dir, "in1")
			passed := []*os.File{listenUnix(t, in0), listenUnix(t, in1)}
			own := a.sockPath(dir, "own")
			tests := []struct {
				name  string
				names []string // LISTEN_FDNAMES, nil for none
				want  []string // by socket: in0, in1, own; systemd-socket-activate passes no names
			}{
				{"named: their names", []string{"a", "b"}, []string{"a", "b", "connection"}},
				{"unnamed: connection", nil, []string{"connection", "connection", "connection"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					p := a.startPassing(t, passed, tt.names, append([]string{"-a", "-l", own}, helperArgs(t, "conn")...)...)
					p.stderr.Wait(t, "istening on ", 3)
					for i, sock := range []string{in0, in1, own} {
						answer, err := request("unix", sock)
						if err != nil {
							t.Fatalf("connection to %s: %v", sock, err)
						}
						want := tt.want[i]
						if a != ours {
							want = ""
						}
						if m := regexp.MustCompile(` names=(\S*) `).FindStringSubmatch(answer); m == nil || m[1] != want {
							t.Errorf("connection to %s: answer %q, want names=%s", sock, answer, want)
						}
					}
				})
			}
		})
	}
}

func TestDatagramSocketsMayShareAnAddress(t *testing.T) {
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("-d -l 127.0.0.1:PORT -l 127.0.0.1:PORT", func(t *testing.T) {
				p, addr := a.startOnFreePort(t, func(addr string) []string {
					return append([]string{"-d", "-l", addr, "-l", addr}, helperArgs(t, "view")...)
				})
				p.stderr.Wait(t, "istening on ", 2)
				c, err := net.Dial("udp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte("hello\n")); err != nil {
					t.Fatal(err)
				}
				if d := diff([]string{"3 dgram " + addr, "4 dgram " + addr}, readView(t, p).FDs); d != "" {
					t.Errorf("the program's fds:\n%s", d)
				}
			})
		})
	}
}

func TestHelpAndVersionActAtOnce(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string // "help", "version" or "" for nothing on stdout
	}{
		{"--help before a bad option", []string{"--help", "--bogus"}, 0, "help"},
		{"--version before a bad option", []string{"--version", "-x"}, 0, "version"},
		{"-h before an option without its value", []string{"-h", "-l"}, 0, "help"},
		{"-h before a bad letter in a bundle", []string{"-hx"}, 0, "help"},
		{"an abbreviated --version before a bad option", []string{"--vers", "--bogus=1"}, 0, "version"},
		{"a bad option before --help", []string{"--bogus", "--help"}, 1, ""},
		{"--datagram with --seqpacket before --help", []string{"-d", "--seqpacket", "--help"}, 1, ""},
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					p := a.start(t, tt.args...)
					if code := p.exitCode(t); code != tt.code {
						t.Errorf("exit status %d, want %d", code, tt.code)
					}
					waitEOF(t, p.stdout)
					waitEOF(t, p.stderr)
					out := p.stdout.Text()
					got := ""
					switch {
					case strings.Contains(out, "--listen=ADDR"):
						got = "help"
					case out != "":
						got = "version"
					}
					if got != tt.out {
						t.Errorf("stdout is %s, want %s:\n%s", cmp.Or(got, "empty"), cmp.Or(tt.out, "empty"), out)
					}
					if errText := p.stderr.Text(); (errText == "") != (tt.code == 0) {
						t.Errorf("stderr:\n%s", errText)
					}
				})
			}
		})
	}
}

func TestSetenvTakesWhatSystemdTakes(t *testing.T) {
	dir := shortTempDir(t)
	refused := []string{"1A=x", "A-B=x", "A.B=x", "=x", "A B=x", "Ä=x", "A=\xff", "A=\xef\xbf\xbe", "1A"}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			for _, v := range refused {
				t.Run(fmt.Sprintf("%q is refused", v), func(t *testing.T) {
					p := a.start(t, "-E", v, "-l", a.sockPath(dir, "refused"), "/bin/true")
					if code := p.exitCode(t); code != 1 {
						t.Errorf("exit status %d, want 1", code)
					}
					waitEOF(t, p.stderr)
					if got := p.stderr.Text(); !strings.Contains(got, "annot assign environment variable") {
						t.Errorf("stderr %q, want it to say the variable cannot be assigned", got)
					}
				})
			}
			t.Run("names of letters, digits and _, values with control characters", func(t *testing.T) {
				sock := a.sockPath(dir, "taken")
				env := map[string]string{"_a1": "x", "A": "\x01\t\x7f\x1b é", "B": "="}
				args := []string{"-l", sock}
				for k, v := range env {
					args = append(args, "-E", k+"="+v)
				}
				p := a.start(t, append(args, helperArgs(t, "view")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				if _, err := request("unix", sock); err != nil {
					t.Fatal(err)
				}
				if d := diff(env, pick(readView(t, p).Env, "_a1", "A", "B")); d != "" {
					t.Errorf("the program's environment:\n%s", d)
				}
			})
		})
	}
}
