package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
	"golang.org/x/sys/unix"
)

func init() { moreHelpers["terminal"] = useTerminal }

// openPTY opens a new pseudo-terminal and returns its controlling side and
// the terminal, both closed by the test's cleanup.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptm.Close() })
	rc, err := ptm.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if cerr := rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptm, tty
}

// crlf drops the carriage returns a terminal writes before newlines.
type crlf struct{ r io.Reader }

func (c crlf) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	k := 0
	for _, b := range p[:n] {
		if b != '\r' {
			p[k] = b
			k++
		}
	}
	return k, err
}

// onTerminal is an activator run as a shell runs a job in the foreground:
// in a session of its own whose controlling terminal is a new
// pseudo-terminal, with the terminal as stdin, stdout and stderr.
type onTerminal struct {
	cmd  *exec.Cmd
	ptm  *os.File // what the user types, and sees
	out  *restarttest.Lines
	done chan struct{} // closed once it exited
}

func (a impl) startOnTerminal(t *testing.T, args ...string) *onTerminal {
	t.Helper()
	ptm, tty := openPTY(t)
	path, env := a.command(t)
	cmd := exec.Command(path, args...)
	cmd.Env = append(append(os.Environ(), env...), noRaceSleep, "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	o := &onTerminal{cmd: cmd, ptm: ptm, out: restarttest.NewLines(crlf{ptm}, timeout), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(o.done)
	}()
	t.Cleanup(func() {
		// The session's processes are the activator's group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-o.done
		if t.Failed() {
			t.Logf("the terminal showed:\n%s", o.out.Text())
		}
	})
	return o
}

// typeIn writes s to the terminal, as typed.
func (o *onTerminal) typeIn(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(o.ptm, s); err != nil {
		t.Fatal(err)
	}
}

// ended waits for the activator and says how it ended, as howEnded does.
func (o *onTerminal) ended(t *testing.T) string {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(timeout):
		t.Fatalf("still running after %v", timeout)
	}
	if ws, ok := o.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", o.cmd.ProcessState.ExitCode())
}

// useTerminal is a program that uses the terminal: it reads a line and
// says so, with whether its process group has the terminal; unless
// SA_TEST_CODE is "default", it counts SIGINTs: on the first it says so,
// reads another line, says how many it got and exits 3.
func useTerminal() error {
	sigs := make(chan os.Signal, 4)
	catch := os.Getenv(codeEnv) != "default"
	if catch {
		signal.Notify(sigs, syscall.SIGINT)
	}
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the terminal: %w", err)
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		return err
	}
	fmt.Printf("read %q, foreground: %v\n", strings.TrimSpace(line), fg == pgid())
	fmt.Println("waiting for ^C")
	if !catch {
		time.Sleep(2 * timeout)
		return nil
	}
	<-sigs
	fmt.Println("got SIGINT")
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("reading the terminal: %w", err)
	}
	fmt.Printf("SIGINTs: %d\n", 1+len(sigs))
	os.Exit(3)
	return nil
}

func TestTheProgramHasTheTerminal(t *testing.T) {
	dir := shortTempDir(t)
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("it reads the terminal and ^C reaches it once", func(t *testing.T) {
				sock := a.sockPath(dir, "tty")
				o := a.startOnTerminal(t, append([]string{"-l", sock}, helperArgs(t, "terminal")...)...)
				o.out.Wait(t, "istening on ", 1)
				// The first connection starts the program; it only uses the
				// terminal.
				dialUnix(t, sock)
				o.typeIn(t, "secret\n")
				o.out.Wait(t, `^read "secret", foreground: true$`, 1)
				o.out.Wait(t, `^waiting for \^C$`, 1)
				o.typeIn(t, "\x03")
				o.out.Wait(t, `got SIGINT$`, 1) // after the echoed ^C
				o.typeIn(t, "done\n")
				o.out.Wait(t, `^SIGINTs: 1$`, 1)
				if got := o.ended(t); got != "exit 3" {
					t.Errorf("%s ended: %s, want the program's exit 3", a.name, got)
				}
			})
			t.Run("^C ends a program that does not catch it, and the activator alike", func(t *testing.T) {
				sock := a.sockPath(dir, "tty-default")
				o := a.startOnTerminal(t, append([]string{"-l", sock, "-E", codeEnv + "=default"}, helperArgs(t, "terminal")...)...)
				o.out.Wait(t, "istening on ", 1)
				dialUnix(t, sock)
				o.typeIn(t, "secret\n")
				o.out.Wait(t, `^waiting for \^C$`, 1)
				o.typeIn(t, "\x03")
				if got := o.ended(t); got != "signal interrupt" {
					t.Errorf("%s ended: %s, want signal interrupt", a.name, got)
				}
			})
		})
	}
}

func init() { moreHelpers["from-terminal"] = reportFromTerminal }

// reportFromTerminal says what fromTerminal makes of SIGINT, SIGQUIT,
// SIGWINCH and SIGTERM, then again after it leaves the terminal's
// foreground group for a group of its own.
func reportFromTerminal() error {
	say := func(when string) {
		fmt.Printf("%s: SIGINT %v, SIGQUIT %v, SIGWINCH %v, SIGTERM %v\n", when,
			fromTerminal(syscall.SIGINT), fromTerminal(syscall.SIGQUIT), fromTerminal(syscall.SIGWINCH), fromTerminal(syscall.SIGTERM))
	}
	say("foreground")
	if err := unix.Setpgid(0, 0); err != nil {
		return err
	}
	say("background")
	return nil
}

func TestSignalsFromTheTerminalAreToldApart(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("on a terminal", func(t *testing.T) {
		ptm, tty := openPTY(t)
		// A session leader cannot change its group: the helper is the
		// child of a shell that leads the session.
		cmd := exec.Command("/bin/sh", "-c", `"$0"; exit $?`, exe)
		cmd.Env = append(os.Environ(), helperEnv+"=from-terminal")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		out := restarttest.NewLines(crlf{ptm}, timeout)
		defer cmd.Wait()
		out.Wait(t, `^background: `, 1)
		want := []string{
			"foreground: SIGINT true, SIGQUIT true, SIGWINCH true, SIGTERM false",
			"background: SIGINT false, SIGQUIT false, SIGWINCH false, SIGTERM false",
		}
		var got []string
		for _, m := range out.Matches(`^(?:fore|back)ground: .*$`) {
			got = append(got, m[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("output (-want +got):\n%s", restarttest.Diff(want, got))
		}
	})
	t.Run("without a terminal", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", `"$0"; exit $?`, exe)
		cmd.Env = append(os.Environ(), helperEnv+"=from-terminal")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, err := cmd.Output()
		want := "foreground: SIGINT false, SIGQUIT false, SIGWINCH false, SIGTERM false\nbackground: SIGINT false, SIGQUIT false, SIGWINCH false, SIGTERM false\n"
		if err != nil || string(out) != want {
			t.Errorf("output %q, %v; want %q", out, err, want)
		}
	})
}
