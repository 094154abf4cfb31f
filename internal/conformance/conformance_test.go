package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// endpoint is one socket the activator listens on (-l addr) and a client
// reaches.
type endpoint struct {
	network string // the client's network: tcp, udp, unix, unixgram, unixpacket
	addr    string // the -l value, and the client's address
	reports string // the network as the server reports it
}

// seq makes socket names unique across attempts and cases.
var seq atomic.Int64

// freePort returns a port of 127.0.0.1 or ::1 that was free a moment ago:
// the kernel picks it, the test closes it and hands it to the activator,
// which cannot take port 0. start reports errAddrInUse if it was taken
// meanwhile.
func freePort(t *testing.T, network, host string) string {
	t.Helper()
	var addr net.Addr
	if strings.HasPrefix(network, "udp") {
		c, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr()
		c.Close()
	} else {
		l, err := net.Listen(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr()
		l.Close()
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(host, port)
}

func tcp4(t *testing.T, _ string) endpoint {
	return endpoint{"tcp", freePort(t, "tcp", "127.0.0.1"), "tcp"}
}

func tcp6(t *testing.T, _ string) endpoint {
	return endpoint{"tcp", freePort(t, "tcp", "::1"), "tcp6"}
}

func udp4(t *testing.T, _ string) endpoint {
	return endpoint{"udp", freePort(t, "udp", "127.0.0.1"), "udp"}
}

func unixPath(t *testing.T, dir string) endpoint {
	return endpoint{"unix", filepath.Join(dir, fmt.Sprintf("s%d.sock", seq.Add(1))), "unix"}
}

func abstract(t *testing.T, _ string) endpoint {
	return endpoint{"unix", fmt.Sprintf("@go-activation-conformance-%d-%d", os.Getpid(), seq.Add(1)), "unix"}
}

func unixgram(t *testing.T, dir string) endpoint {
	return endpoint{"unixgram", filepath.Join(dir, fmt.Sprintf("d%d.sock", seq.Add(1))), "unixgram"}
}

func seqpacket(t *testing.T, dir string) endpoint {
	return endpoint{"unixpacket", filepath.Join(dir, fmt.Sprintf("p%d.sock", seq.Add(1))), "unixpacket"}
}

// socketDir returns a directory for socket files whose paths stay short
// (sun_path holds 108 bytes; t.TempDir's names follow the test's).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "conf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// activation is one run of the activator.
type activation struct {
	endpoints []func(t *testing.T, dir string) endpoint
	options   []string // activator options besides -l
	env       []string // added to the activator's own environment
	program   string   // a program TestMain built
	args      []string
	argsFor   func(eps []endpoint) []string // more arguments, which name the endpoints
}

// activate starts the activation, picking ports again when the activator
// finds one taken, and returns the endpoints it listens on.
func activate(t *testing.T, a activation) (*running, []endpoint) {
	t.Helper()
	dir := socketDir(t)
	const attempts = 5
	for range attempts {
		var eps []endpoint
		var args []string
		for _, f := range a.endpoints {
			e := f(t, dir)
			eps = append(eps, e)
			args = append(args, "-l", e.addr)
		}
		args = append(args, a.options...)
		args = append(args, program(a.program))
		args = append(args, a.args...)
		if a.argsFor != nil {
			args = append(args, a.argsFor(eps)...)
		}
		r, err := start(t, args, environ(a.env...))
		if errors.Is(err, errAddrInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return r, eps
	}
	t.Fatalf("%s found its ports taken %d times", activator, attempts)
	return nil, nil
}

// closeWriter is a connection whose sending side can be shut down.
type closeWriter interface {
	CloseWrite() error
}

// askStream connects to e, sends send (if any) and shuts down its sending
// side, and returns everything the server writes until it closes.
func askStream(t *testing.T, e endpoint, send string) string {
	t.Helper()
	got, err := tryStream(e, send)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tryStream(e endpoint, send string) (string, error) {
	c, err := net.DialTimeout(e.network, e.addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			return "", err
		}
		if err := c.(closeWriter).CloseWrite(); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("reading from %s %s: %w", e.network, e.addr, err)
	}
	return string(b), nil
}

// askDatagram sends send to e and returns the one datagram that comes back.
func askDatagram(t *testing.T, e endpoint, send string) string {
	t.Helper()
	var c net.PacketConn
	var to net.Addr
	var err error
	switch e.network {
	case "unixgram":
		// The client binds an address of its own, or no answer can reach it.
		c, err = net.ListenPacket("unixgram", e.addr+".client")
		to = &net.UnixAddr{Name: e.addr, Net: "unixgram"}
	default:
		c, err = net.ListenPacket(e.network, "127.0.0.1:0")
		if err == nil {
			to, err = net.ResolveUDPAddr(e.network, e.addr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte(send), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reading the answer from %s %s: %v", e.network, e.addr, err)
	}
	return string(buf[:n])
}

// ask asks e with the client its network needs.
func ask(t *testing.T, e endpoint, send string) string {
	t.Helper()
	switch e.network {
	case "udp", "unixgram":
		return askDatagram(t, e, send)
	default:
		return askStream(t, e, send)
	}
}

// probeReport is the report the probe should write for fds named names
// (all "unknown" when nil) on eps, with the given env lines.
func probeReport(pid int, eps []endpoint, names []string, env ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d\n", pid)
	for i, e := range eps {
		name := "unknown"
		if names != nil {
			name = names[i]
		}
		listening := e.network != "udp" && e.network != "unixgram"
		fmt.Fprintf(&b, "fd %d %q %s listening=%t local=%s remote=- claimed=true\n", 3+i, name, e.reports, listening, e.addr)
	}
	for _, kv := range env {
		fmt.Fprintf(&b, "env %s\n", kv)
	}
	return b.String()
}

// diff fails the test when got is not want, printing the lines that
// differ.
func diff(t *testing.T, what, want, got string) {
	t.Helper()
	if got == want {
		return
	}
	w, g := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		switch {
		case i >= len(w):
			fmt.Fprintf(&b, "+%q\n", g[i])
		case i >= len(g):
			fmt.Fprintf(&b, "-%q\n", w[i])
		case w[i] != g[i]:
			fmt.Fprintf(&b, "-%q\n+%q\n", w[i], g[i])
		default:
			fmt.Fprintf(&b, " %q\n", w[i])
		}
	}
	t.Errorf("%s (-want +got):\n%s", what, b.String())
}

type fn = func(t *testing.T, dir string) endpoint

func TestProbeGetsWhatTheActivatorPasses(t *testing.T) {
	tests := []struct {
		name    string
		a       activation
		names   []string
		wantEnv []string
	}{{
		name: "a TCP socket on 127.0.0.1 arrives as an IPv4 listener",
		a:    activation{endpoints: []fn{tcp4}},
	}, {
		name: "a TCP socket on [::1] arrives as an IPv6 listener",
		a:    activation{endpoints: []fn{tcp6}},
	}, {
		name: "a unix socket path arrives as a unix listener",
		a:    activation{endpoints: []fn{unixPath}},
	}, {
		name: "an abstract unix socket arrives as a unix listener",
		a:    activation{endpoints: []fn{abstract}},
	}, {
		name: "a UDP socket (--datagram) arrives as a packet conn",
		a:    activation{endpoints: []fn{udp4}, options: []string{"--datagram"}},
	}, {
		name: "a unixgram socket (--datagram) arrives as a packet conn",
		a:    activation{endpoints: []fn{unixgram}, options: []string{"--datagram"}},
	}, {
		name: "a seqpacket socket (--seqpacket) arrives as a unixpacket listener",
		a:    activation{endpoints: []fn{seqpacket}, options: []string{"--seqpacket"}},
	}, {
		name:  "three sockets named by --fdname=a:b:c arrive in order with their names",
		a:     activation{endpoints: []fn{tcp4, abstract, tcp6}, options: []string{"--fdname=a:b:c"}},
		names: []string{"a", "b", "c"},
	}, {
		name:  "one --fdname name is given to every socket",
		a:     activation{endpoints: []fn{tcp4, unixPath}, options: []string{"--fdname=web"}},
		names: []string{"web", "web"},
	}, {
		name: "-E passes variables, and nothing else of the activator's environment",
		a: activation{
			endpoints: []fn{tcp4},
			options:   []string{"-E", "CONFORMANCE_GREETING=hello", "-E", "CONFORMANCE_FROM_PARENT"},
			env:       []string{"CONFORMANCE_FROM_PARENT=yes", "CONFORMANCE_NOT_PASSED=no"},
		},
		wantEnv: []string{"CONFORMANCE_FROM_PARENT=yes", "CONFORMANCE_GREETING=hello"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireActivator(t)
			tt.a.program = "probe"
			r, eps := activate(t, tt.a)
			// In non-accept mode the activator execs the server: same pid.
			want := probeReport(r.cmd.Process.Pid, eps, tt.names, tt.wantEnv...)
			for _, e := range eps {
				// The probe reads no request: it answers a connection at
				// once, and a datagram with its report.
				send := ""
				if e.network == "udp" || e.network == "unixgram" {
					send = "hi"
				}
				diff(t, "report from "+e.network+" "+e.addr, want, ask(t, e, send))
			}
		})
	}
}

func TestAcceptStartsOneProbePerConnection(t *testing.T) {
	requireActivator(t)
	r, eps := activate(t, activation{endpoints: []fn{tcp4}, options: []string{"--accept"}, program: "probe", args: []string{"-accept"}})
	pids := map[string]bool{strconv.Itoa(r.cmd.Process.Pid): true}
	for i := range 3 {
		c, err := net.DialTimeout("tcp", eps[0].addr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		pid, rest, _ := strings.Cut(string(b), "\n")
		pid = strings.TrimPrefix(pid, "pid ")
		if pids[pid] {
			t.Errorf("connection %d: served by pid %s, which served before or is the activator", i, pid)
		}
		pids[pid] = true
		want := fmt.Sprintf("fd 3 %q tcp listening=false local=%s remote=%s claimed=true\n", "unknown", eps[0].addr, c.LocalAddr())
		diff(t, fmt.Sprintf("connection %d", i), want, rest)
	}
}

func TestExamplesServeUnderTheActivator(t *testing.T) {
	tests := []struct {
		name string
		a    activation
		send string
		want string
	}{{
		name: "examples/http says it was activated with the socket named web",
		a:    activation{endpoints: []fn{tcp4}, options: []string{"--fdname=web"}, program: "http"},
		want: "Hello from go-activation: socket-activated, fd 3 named \"web\"\n",
	}, {
		name: "examples/http given the activator's address as --listen takes the inherited socket",
		a: activation{
			endpoints: []fn{tcp4},
			program:   "http",
			argsFor:   func(eps []endpoint) []string { return []string{"--listen", eps[0].addr} },
		},
		want: "Hello from go-activation: socket-activated, fd 3 named \"unknown\"\n",
	}, {
		name: "examples/udp-echo echoes a UDP datagram",
		a:    activation{endpoints: []fn{udp4}, options: []string{"--datagram", "--fdname=echo"}, program: "udp-echo"},
		send: "ping over udp",
		want: "ping over udp",
	}, {
		name: "examples/udp-echo echoes a unixgram datagram",
		a:    activation{endpoints: []fn{unixgram}, options: []string{"--datagram", "--fdname=echo"}, program: "udp-echo"},
		send: "ping over unixgram",
		want: "ping over unixgram",
	}, {
		name: "examples/accept-echo echoes a connection",
		a:    activation{endpoints: []fn{tcp4}, options: []string{"--accept"}, program: "accept-echo"},
		send: "hello, accept-echo",
		want: "hello, accept-echo",
	}, {
		name: "examples/inetd-echo echoes the TCP connection on its stdin (--inetd --accept)",
		a:    activation{endpoints: []fn{tcp4}, options: []string{"--inetd", "--accept"}, program: "inetd-echo"},
		send: "hello over tcp\nfrom a client\n",
		want: "hello over tcp\nfrom a client\n",
	}, {
		name: "examples/inetd-echo echoes the unix connection on its stdin (--inetd --accept)",
		a:    activation{endpoints: []fn{unixPath}, options: []string{"--inetd", "--accept"}, program: "inetd-echo"},
		send: "hello over unix",
		want: "hello over unix",
	}, {
		name: "examples/inetd-echo serves the TCP listener on its stdin (--inetd)",
		a:    activation{endpoints: []fn{tcp6}, options: []string{"--inetd"}, program: "inetd-echo"},
		send: "hello over tcp6",
		want: "hello over tcp6",
	}, {
		name: "examples/inetd-echo serves the unix listener on its stdin (--inetd)",
		a:    activation{endpoints: []fn{abstract}, options: []string{"--inetd"}, program: "inetd-echo"},
		send: "hello over an abstract socket",
		want: "hello over an abstract socket",
	}, {
		name: "examples/inetd-echo echoes UDP datagrams on its stdin (--inetd --datagram)",
		a:    activation{endpoints: []fn{udp4}, options: []string{"--inetd", "--datagram"}, program: "inetd-echo"},
		send: "ping over udp",
		want: "ping over udp",
	}, {
		name: "examples/inetd-echo echoes unixgram datagrams on its stdin (--inetd --datagram)",
		a:    activation{endpoints: []fn{unixgram}, options: []string{"--inetd", "--datagram"}, program: "inetd-echo"},
		send: "ping over unixgram",
		want: "ping over unixgram",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireActivator(t)
			_, eps := activate(t, tt.a)
			var got string
			if tt.a.program == "http" {
				got = httpGet(t, "http://"+eps[0].addr+"/")
			} else {
				got = ask(t, eps[0], tt.send)
			}
			diff(t, "answer", tt.want, got)
		})
	}
}

// httpGet returns the body of a GET of url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestFewerNamesThanSocketsIsAnError(t *testing.T) {
	requireActivator(t)
	// systemd-socket-activate passes LISTEN_FDNAMES=a:b for three fds with
	// only a warning; sd_listen_fds_with_names returns EINVAL.
	r, eps := activate(t, activation{endpoints: []fn{tcp4, tcp4, tcp4}, options: []string{"--fdname=a:b"}, program: "probe"})
	got := askStream(t, eps[0], "")
	if !strings.HasPrefix(got, "error: activation: ") || !strings.Contains(got, "LISTEN_FDNAMES") || !strings.Contains(got, `"a:b"`) {
		t.Errorf("answer %q, want an activation error naming LISTEN_FDNAMES and quoting \"a:b\"", got)
	}
	var exit interface{ ExitCode() int }
	if err := r.wait(t); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("probe exited with %v, want exit status 1", err)
	}
}

func TestNothingIsLostWhileTheServerStarts(t *testing.T) {
	requireActivator(t)
	const clients = 200
	r, eps := activate(t, activation{endpoints: []fn{tcp4}, program: "probe"})
	want := probeReport(r.cmd.Process.Pid, eps, nil)

	// All clients connect at once to a server that does not run yet: the
	// first connection makes the activator exec it, and the others wait in
	// the listen queue.
	var wg sync.WaitGroup
	var answered atomic.Int64
	errs := make(chan error, clients)
	ready := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			got, err := tryStream(eps[0], "")
			switch {
			case err != nil:
				errs <- err
			case got != want:
				errs <- fmt.Errorf("answer %q, want %q", got, want)
			default:
				answered.Add(1)
			}
		}()
	}
	close(ready)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d of %d clients connecting at once to a server not yet started got their answer", answered.Load(), clients)
	if answered.Load() != clients {
		t.Errorf("%d of %d clients got their answer", answered.Load(), clients)
	}
}

// Without --accept the activator execs inetd-echo with the listening socket
// on stdin at the first connection; inetd-echo serves that connection and
// every later one, in the activator's process. With --accept each
// connection gets a process of its own, which exits when it is done.
func TestInetdEchoServesEveryConnection(t *testing.T) {
	for _, tt := range []struct {
		name    string
		options []string
	}{
		{"the listener on stdin, in one process (--inetd)", []string{"--inetd"}},
		{"one connection per process (--inetd --accept)", []string{"--inetd", "--accept"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireActivator(t)
			r, eps := activate(t, activation{endpoints: []fn{tcp4}, options: tt.options, program: "inetd-echo"})
			for i := range 3 {
				msg := fmt.Sprintf("connection %d\n", i)
				diff(t, fmt.Sprintf("answer to connection %d", i), msg, askStream(t, eps[0], msg))
			}
			// The process runs on: the activator, or the server it became.
			select {
			case <-r.exited:
				t.Errorf("%s exited (%v) after three connections; it must keep serving", activator, r.err)
			default:
			}
		})
	}
}

// tcpserver is ucspi-tcp's inetd-style server: it accepts each TCP
// connection and runs the program with the connection on stdin and stdout.
const tcpserver = "/usr/bin/tcpserver"

func TestInetdEchoUnderTcpserver(t *testing.T) {
	requireActivator(t)
	requireTool(t, tcpserver, "ucspi-tcp")
	// Port 0: the kernel picks, and -1 prints the port tcpserver got.
	// -R and -H: no ident or DNS lookups of the peer.
	cmd := exec.Command(tcpserver, "-1", "-R", "-H", "127.0.0.1", "0", program("inetd-echo"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := newLogBuffer()
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if s, _ := out.snapshot(); s != "" {
			t.Logf("%s's standard error:\n%s", tcpserver, s)
		}
	})
	portLine := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		portLine <- line
	}()
	var port string
	select {
	case line := <-portLine:
		port = strings.TrimSpace(line)
	case <-time.After(timeout):
		t.Fatalf("%s printed no port within %v", tcpserver, timeout)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		t.Fatalf("%s printed %q, want its port", tcpserver, port)
	}
	e := endpoint{network: "tcp", addr: net.JoinHostPort("127.0.0.1", port)}
	for i := range 3 {
		msg := fmt.Sprintf("hello from client %d\nsecond line\n", i)
		diff(t, fmt.Sprintf("answer to connection %d", i), msg, askStream(t, e, msg))
	}
}
