//go:build unix

package activation_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

func TestEveryKindOfFDGoesToTheCallForIt(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	web6, _ := tcpListener(t, "tcp6", "[::1]:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", activationtest.SocketPath(t, "sock"))
	gram := unixgramConn(t, activationtest.SocketPath(t, "gram"))
	packet := unixListener(t, "unixpacket", activationtest.SocketPath(t, "packet"))
	abstract := unixListener(t, "unix", fmt.Sprintf("@go-activation-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	conn, client := tcpConnPair(t)
	pipe := pipeReader(t)
	state := regularFile(t)
	all := []passed{web, web6, dns, sock, gram, packet, abstract, conn, pipe, state}
	names := []string{"web", "web6", "dns", "sock", "gram", "packet", "abstract", "conn", "pipe", "state"}

	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(all...),
		env:      activated(len(all), names...),

		calls: []call{listenersCall(), packetConnsCall(), connsCall(), filesCall(), listenersCall(), filesCall()},
	})

	diff(t, "calls", []callResult{
		{Call: "Listeners", Items: []string{web.desc, web6.desc, sock.desc, packet.desc, abstract.desc}},
		{Call: "PacketConns", Items: []string{dns.desc, gram.desc}},
		{Call: "Conns", Items: []string{conn.desc}},
		{Call: "Files", Items: []string{"*os.File pipe mode 10000", "*os.File state mode 100000"}},
		{Call: "Listeners"},
		{Call: "Files"},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	diff(t, "variables left set", []string(nil), r.EnvLeft)
	diff(t, "fds left without FD_CLOEXEC", []int(nil), r.NotCloexec)
	if r.FDsHeld != r.FDsBefore {
		t.Errorf("open fds: %d before the calls, %d while holding every value; want one fd per inherited fd", r.FDsBefore, r.FDsHeld)
	}
	if r.FDsAfter != r.FDsBefore-len(all) {
		t.Errorf("open fds after closing every value: %d, want %d", r.FDsAfter, r.FDsBefore-len(all))
	}

	addr := func(d string) string { return d[strings.LastIndexByte(d, ' ')+1:] }
	diff(t, "Inherited", []string{
		fmt.Sprintf(`fd 3 "web": tcp listener on %s, claimed`, addr(web.desc)),
		fmt.Sprintf(`fd 4 "web6": tcp6 listener on %s, claimed`, addr(web6.desc)),
		fmt.Sprintf(`fd 5 "dns": udp socket on %s, claimed`, addr(dns.desc)),
		fmt.Sprintf(`fd 6 "sock": unix listener on %s, claimed`, addr(sock.desc)),
		fmt.Sprintf(`fd 7 "gram": unixgram socket on %s, claimed`, addr(gram.desc)),
		fmt.Sprintf(`fd 8 "packet": unixpacket listener on %s, claimed`, addr(packet.desc)),
		fmt.Sprintf(`fd 9 "abstract": unix listener on %s, claimed`, addr(abstract.desc)),
		fmt.Sprintf(`fd 10 "conn": tcp connection on %s from %s, claimed`, addr(conn.desc), client.LocalAddr()),
		`fd 11 "pipe": fifo, claimed`,
		`fd 12 "state": regular file, claimed`,
	}, r.Inherited)

	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("hello from the child"))
	_, err := io.ReadFull(client, got)
	if string(got) != "hello from the child" || err != nil {
		t.Errorf("the connection passed to the child: read %q, %v; want %q", got, err, "hello from the child")
	}
	if _, err := os.Stat(addr(sock.desc)); err != nil {
		t.Errorf("closing the inherited unix listener removed its socket file: %v", err)
	}
}

func TestInheritedDescribesWithoutClaiming(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	packet := unixListener(t, "unixpacket", activationtest.SocketPath(t, "packet"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web, dns, packet),
		env:      activated(3),

		calls: []call{packetConnsCall()},
	})
	addr := func(d string) string { return d[strings.LastIndexByte(d, ' ')+1:] }
	diff(t, "Inherited", []string{
		fmt.Sprintf(`fd 3 "unknown": tcp listener on %s`, addr(web.desc)),
		fmt.Sprintf(`fd 4 "unknown": udp socket on %s, claimed`, addr(dns.desc)),
		fmt.Sprintf(`fd 5 "unknown": unixpacket listener on %s`, addr(packet.desc)),
	}, r.Inherited)
	if r.FDsAfter != r.FDsBefore-1 {
		t.Errorf("open fds: %d before, %d after closing the one value; the unclaimed fds must stay open", r.FDsBefore, r.FDsAfter)
	}
}

func TestNamedCallsGroupByName(t *testing.T) {
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	c, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	d := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(a, b, c, d),
		env:      activated(4, "web", "admin", "web", "dns"),
		calls:    []call{listenersWithNamesCall(), packetConnsWithNamesCall(), listenersWithNamesCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "ListenersWithNames", Items: []string{"admin=" + b.desc, "web=" + a.desc, "web=" + c.desc}},
		{Call: "PacketConnsWithNames", Items: []string{"dns=" + d.desc}},
		{Call: "ListenersWithNames"},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
}

func TestNamedListenersKeepFDOrder(t *testing.T) {
	var files []passed
	names := []string{"web", "admin", "web", "metrics", "alpha"}
	for range names {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		files = append(files, p)
	}
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(append(files, dns)...),
		env:      activated(6, append(names, "dns")...),
		calls:    []call{namedListenersCall(), namedListenersCall()},
	})
	var want []string
	for i, p := range files {
		want = append(want, names[i]+"="+p.desc)
	}
	diff(t, "calls", []callResult{{Call: "NamedListeners", Items: want}, {Call: "NamedListeners"}}, r.Calls)
	diff(t, "problems serving each NamedListener as a net.Listener", []string(nil), r.Serve)
}

func TestConnsNamedTakesOnlyConnectionsOfThatName(t *testing.T) {
	kept0, client0 := tcpConnPair(t)
	other, client1 := tcpConnPair(t)
	kept1, client2 := tcpConnPair(t)
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(kept0, other, kept1, web),
		env:      activated(4, "kept", "other", "kept", "kept"),
		calls:    []call{connsNamedCall("kept"), connsNamedCall("kept"), connsCall(), listenersCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "ConnsNamed kept", Items: []string{kept0.desc, kept1.desc}},
		{Call: "ConnsNamed kept"},
		{Call: "Conns", Items: []string{other.desc}},
		{Call: "Listeners", Items: []string{web.desc}},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	for i, c := range []net.Conn{client0, client1, client2} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len("hello from the child"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello from the child" {
			t.Errorf("connection %d: read %q, %v", i, got, err)
		}
	}
}

func TestTLSListenersRefusesANilConfigAndClaimsNothing(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web),
		env:      activated(1),

		calls: []call{tlsListenersCall(), listenersCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "TLSListeners", Err: "activation: TLSListeners needs a tls.Config, got nil"},
		{Call: "Listeners", Items: []string{web.desc}},
	}, r.Calls)
}

func TestTLSListenersWithNamesWrapsEveryListener(t *testing.T) {
	web, wl := tcpListener(t, "tcp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", filepath.Join(t.TempDir(), "s"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web, sock),
		env:      activated(2, "web", "sock"),
		calls:    []call{tlsListenersWithNamesCall(false), tlsListenersWithNamesCall(true), tlsListenersWithNamesCall(true)},
	})
	diff(t, "calls", []callResult{
		{Call: "TLSListenersWithNames nil", Err: "activation: TLSListenersWithNames needs a tls.Config, got nil"},
		{Call: "TLSListenersWithNames", Items: []string{
			"sock=*tls.listener unix " + strings.Fields(sock.desc)[2],
			"web=*tls.listener tcp " + wl.Addr().String(),
		}},
		{Call: "TLSListenersWithNames"},
	}, r.Calls)
}

// One end of a SOCK_SEQPACKET socket pair is a connection: Conns returns
// it as a *net.UnixConn, and it is described as unnamed.
func TestASeqpacketConnectionGoesToConns(t *testing.T) {
	fds, err := socketpair(unix.SOCK_SEQPACKET)
	if err != nil {
		t.Fatal(err)
	}
	ours, peer := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { ours.Close(); peer.Close() })
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{ours},
		env:      activated(1, "pkt"),
		calls:    []call{listenersCall(), packetConnsCall(), connsCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "Listeners"},
		{Call: "PacketConns"},
		{Call: "Conns", Items: []string{"*net.UnixConn unixpacket @"}},
	}, r.Calls)
	diff(t, "Inherited", []string{`fd 3 "pkt": unixpacket connection on (unnamed) from (unnamed), claimed`}, r.Inherited)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 64)
	if n, err := peer.Read(b); err != nil || string(b[:n]) != "hello from the child" {
		t.Errorf("the peer read %q, %v", b[:n], err)
	}
}

// Inherited gives a connected datagram socket's peer before and after
// PacketConns hands it out.
func TestAConnectedDatagramSocketKeepsItsPeer(t *testing.T) {
	server, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	c, err := net.Dial("udp4", server.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := run(t, childProc{scenario: "describe-around", files: []*os.File{fileOf(t, c.(*net.UDPConn))}, env: activated(1, "peer"),
		calls: []call{packetConnsUnusedCall()}})
	desc := fmt.Sprintf(`fd 3 "peer": udp connection on %s from %s`, c.LocalAddr(), c.RemoteAddr())
	diff(t, "lines", []string{
		"before: " + desc,
		fmt.Sprintf(`PacketConns unused: ["*net.UDPConn udp %s"], <nil>`, c.LocalAddr()),
		"after: " + desc + ", claimed",
	}, r.Lines)
}

func TestEachFDIsHandedOutOnceAcrossGoroutines(t *testing.T) {
	var all []passed
	var names []string
	for i := 0; i < 6; i++ {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		all = append(all, p)
		names = append(names, "race")
	}
	for i := 0; i < 3; i++ {
		all = append(all, udpConn(t, "udp4", "127.0.0.1:0"), pipeReader(t))
		names = append(names, "dns", "pipe")
	}
	var want []uint64
	for _, p := range all {
		var st unix.Stat_t
		if err := unix.Fstat(int(p.file.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		want = append(want, st.Ino)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	for round := 0; round < 5; round++ {
		r := run(t, childProc{scenario: "race", files: filesOf(all...), env: activated(len(all), names...)})
		diff(t, fmt.Sprintf("round %d: errors", round), []string(nil), r.Serve)
		diff(t, fmt.Sprintf("round %d: inodes handed out", round), want, r.Inodes)
	}
}

// activationtest passes sockets the way NonBlocking=yes does, and sets
// LISTEN_PID through its shim rather than in the child.
func TestNonBlockingSocketsFromActivationtest(t *testing.T) {
	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	dns := activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0")
	cmd, err := activationtest.Command([]activationtest.Socket{web, dns}, os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, callsEnv+"="+encodeCalls([]call{listenersWithNamesCall(), packetConnsWithNamesCall()}))
	t.Cleanup(func() {
		for _, f := range cmd.ExtraFiles {
			f.Close()
		}
	})
	r := runCmd(t, "calls", cmd)
	diff(t, "calls", []callResult{
		{Call: "ListenersWithNames", Items: []string{"web=*net.TCPListener tcp " + web.Listener.Addr().String()}},
		{Call: "PacketConnsWithNames", Items: []string{"dns=*net.UDPConn udp " + dns.PacketConn.LocalAddr().String()}},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	diff(t, "variables left set", []string(nil), r.EnvLeft)
	if r.FDsHeld != r.FDsBefore {
		t.Errorf("open fds: %d before the calls, %d while holding every value", r.FDsBefore, r.FDsHeld)
	}
}

// A connection stored under a name whose peer reset it meanwhile is not
// connected any more: ConnsNamed closes it rather than return it or leave
// it open and unclaimed.
func TestConnsNamedClosesAStoredConnectionWhosePeerIsGone(t *testing.T) {
	gone, client := tcpConnPair(t)
	live, liveClient := tcpConnPair(t)
	client.(*net.TCPConn).SetLinger(0)
	client.Close() // a reset
	pfd := []unix.PollFd{{Fd: int32(gone.file.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 10000); n != 1 || err != nil {
		t.Fatalf("the reset did not arrive: poll = %d, %v", n, err)
	}
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(gone, live),
		env:      activated(2, "kept", "kept"),
		calls:    []call{connsNamedCall("kept"), filesCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "ConnsNamed kept", Items: []string{live.desc}},
		{Call: "Files"},
	}, r.Calls)
	// Described while it was still open: a TCP socket, with no peer.
	sa, err := unix.Getsockname(int(gone.file.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	in4 := sa.(*unix.SockaddrInet4)
	wantGone := fmt.Sprintf(`fd 3 "kept": tcp socket on %s, claimed`, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)))
	if len(r.Inherited) != 2 || r.Inherited[0] != wantGone {
		t.Errorf("Inherited: %q; want first %q", r.Inherited, wantGone)
	}
	if r.FDsHeld != r.FDsBefore-1 {
		t.Errorf("open fds: %d before the calls, %d holding the one live connection; want the dead one closed", r.FDsBefore, r.FDsHeld)
	}
	liveClient.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("hello from the child"))
	if _, err := io.ReadFull(liveClient, got); err != nil || string(got) != "hello from the child" {
		t.Errorf("the live connection: read %q, %v", got, err)
	}
}
