//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProgramPIDVariablesNameTheProgram(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // LISTEN_PID=…, with "self" for the program's pid
	}{{
		name: "LISTEN_PID is the pid of the program, a child of socket-activate",
		args: []string{"--now", "-l", "127.0.0.1:0"},
		want: "LISTEN_PID=self WATCHDOG_PID=unset WATCHDOG_USEC=unset FDSTORE=unset NOTIFY_SOCKET set: false",
	}, {
		name: "--notify sets FDSTORE to the store's size",
		args: []string{"--notify", "--now", "-l", "127.0.0.1:0"},
		want: "LISTEN_PID=self WATCHDOG_PID=unset WATCHDOG_USEC=unset FDSTORE=256 NOTIFY_SOCKET set: true",
	}, {
		name: "--watchdog-sec sets WATCHDOG_PID to the program's pid, with no socket to pass",
		args: []string{"--notify", "--now", "--watchdog-sec=1min", "--fdstore-max=3"},
		want: "LISTEN_PID=unset WATCHDOG_PID=self WATCHDOG_USEC=60000000 FDSTORE=3 NOTIFY_SOCKET set: true",
	}, {
		name: "--watchdog-sec and sockets set both pids",
		args: []string{"--notify", "--now", "--watchdog-sec=2.5", "--fdstore-max=0", "-l", "127.0.0.1:0"},
		want: "LISTEN_PID=self WATCHDOG_PID=self WATCHDOG_USEC=2500000 FDSTORE=unset NOTIFY_SOCKET set: true",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProc(t, append(tt.args, helperArgs(t, "pids")...)...)
			m := p.stdout.Wait(t, `^pid=(\d+) ppid=(\d+) (.*)$`, 1)[0]
			pid, ppid := m[1], m[2]
			got := regexp.MustCompile(`=`+pid+`\b`).ReplaceAllString(m[3], "=self")
			if got != tt.want {
				t.Errorf("the program (pid %s) got\n%s\nwant\n%s", pid, m[3], tt.want)
			}
			if want := strconv.Itoa(p.cmd.Process.Pid); ppid != want {
				t.Errorf("the program's parent is pid %s, want socket-activate's %s: the program is not the process socket-activate started", ppid, want)
			}
			p.signal(t, syscall.SIGTERM)
			if code := p.exitCode(t); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
		})
	}
}

func TestAcceptOnABarePortGivesAnIPv4PeerItsIPv4Address(t *testing.T) {
	p := startProc(t, append([]string{"-a", "-l", "0"}, helperArgs(t, "conn")...)...)
	port := p.addrs(t, 1)[0]
	port = port[strings.LastIndex(port, ":")+1:]
	c, err := net.DialTimeout("tcp4", "127.0.0.1:"+port, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	io.WriteString(c, "hello\n")
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	_, local, _ := net.SplitHostPort(c.LocalAddr().String())
	want := fmt.Sprintf("remote=127.0.0.1:%s fd3=stream", local)
	if !regexp.MustCompile(`^pid=\d+ fds=1 names=connection ` + regexp.QuoteMeta(want) + ` inherited=\[3\]\n$`).MatchString(answer) {
		t.Errorf("the program for an IPv4 connection to a dual-stack socket answered\n%q\nwant REMOTE_ADDR and REMOTE_PORT in\n%q", answer, want)
	}
	p.signal(t, syscall.SIGTERM)
	p.exitCode(t)
}
