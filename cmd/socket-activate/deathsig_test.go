//go:build linux || freebsd

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

func init() { moreHelpers["inetd-hold"] = holdInetd }

// holdInetd says "ready" on stdout, the connection under --accept
// --inetd, then waits for SIGTERM and says "got terminated" there before
// it exits.
func holdInetd() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if _, err := fmt.Println("ready"); err != nil {
		return err
	}
	<-sigs
	_, err := fmt.Println("got terminated")
	return err
}

func TestProgramsDieWithTheActivator(t *testing.T) {
	dir := shortTempDir(t)
	// readLines reads n lines from a connection, within timeout.
	readLines := func(t *testing.T, r *bufio.Reader, n int) []string {
		t.Helper()
		var lines []string
		for range n {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v", lines, err)
			}
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
		return lines
	}
	for _, a := range impls(t) {
		t.Run(a.name, func(t *testing.T) {
			t.Run("the program dies of SIGKILL", func(t *testing.T) {
				sock := a.sockPath(dir, "kill")
				p := a.start(t, append([]string{"-l", sock}, helperArgs(t, "view-wait")...)...)
				p.stderr.Wait(t, "istening on ", 1)
				dialUnix(t, sock)
				readView(t, p)
				p.signal(t, syscall.SIGKILL)
				// Standard output reaches its end once no process holds
				// it: the program is gone too.
				waitEOF(t, p.stdout)
				if out := p.stdout.Text(); strings.Contains(out, "got terminated") {
					t.Errorf("the program got SIGTERM, want SIGKILL; it said:\n%s", out)
				}
			})
			for _, inetd := range []bool{false, true} {
				args, helper, name := []string{"-a"}, "conn-hold", "--accept programs get SIGTERM"
				if inetd {
					args, helper, name = []string{"-a", "--inetd"}, "inetd-hold", "--accept --inetd programs get SIGTERM"
				}
				t.Run(name, func(t *testing.T) {
					sock := a.sockPath(dir, helper)
					p := a.start(t, append(append(args, "-l", sock), helperArgs(t, helper)...)...)
					p.stderr.Wait(t, "istening on ", 1)
					c := dialUnix(t, sock)
					r := bufio.NewReader(c)
					readLines(t, r, 1)
					p.signal(t, syscall.SIGKILL)
					if got := readLines(t, r, 1)[0]; got != "got terminated" {
						t.Errorf("the program said %q, want \"got terminated\"", got)
					}
				})
			}
		})
	}
}
