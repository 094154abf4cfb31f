package activation_test

import (
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A call converts its sockets one after another through one carrier fd;
// a socket the net package cannot serve (a vsock listener, a netlink or
// packet datagram socket, a stream socket that is not connected) in the
// middle of such a run is skipped and left for Files, and every other
// socket, blocking or not, comes out working, one fd each.
func TestUnservableSocketsInTheMiddleOfARun(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	api, apiL := tcpListener(t, "tcp4", "127.0.0.1:0")
	conn, _ := tcpConnPair(t)
	unconnected := rawSocket(t, "unconnected", unix.AF_INET, unix.SOCK_STREAM, 0, nil, false)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, peer := os.NewFile(uintptr(pair[0]), "ours"), os.NewFile(uintptr(pair[1]), "peer")
	t.Cleanup(func() { ours.Close(); peer.Close() })
	unbound := rawSocket(t, "unbound-unix", unix.AF_UNIX, unix.SOCK_STREAM, 0, nil, false)
	dns := udpConn(t, "udp4", "127.0.0.1:0")

	all := []*os.File{
		web.file, vsockListener(t), nonBlockingFileOf(t, apiL.(*net.TCPListener)), // listeners
		conn.file, unconnected, ours, unbound, // stream sockets
		dns.file, netlinkSocket(t), packetSocket(t), // datagram sockets
	}
	r := run(t, childProc{
		scenario: "calls",
		files:    all,
		env:      activated(len(all)),

		calls: []call{listenersCall(), connsCall(), packetConnsCall(), filesCall(), listenersCall(), connsCall(), packetConnsCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "Listeners", Items: []string{web.desc, api.desc}},
		{Call: "Conns", Items: []string{conn.desc, "*net.UnixConn unix @"}},
		{Call: "PacketConns", Items: []string{dns.desc}},
		{Call: "Files", Items: []string{"*os.File unknown mode 140000", "*os.File unknown mode 140000", "*os.File unknown mode 140000",
			"*os.File unknown mode 140000", "*os.File unknown mode 140000"}},
		{Call: "Listeners"}, {Call: "Conns"}, {Call: "PacketConns"},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	if r.FDsHeld != r.FDsBefore {
		t.Errorf("open fds: %d before the calls, %d holding every value; want one fd per inherited fd", r.FDsBefore, r.FDsHeld)
	}
	if r.FDsAfter != r.FDsBefore-len(all) {
		t.Errorf("open fds after closing every value: %d, want %d", r.FDsAfter, r.FDsBefore-len(all))
	}
	for _, line := range r.Inherited {
		if !strings.HasSuffix(line, ", claimed") {
			t.Errorf("Inherited: %s", line)
		}
	}
}

// Inherited describes an fd the same way before and after a call that
// found the net package cannot serve it, whether or not it was described
// before that call: a vsock listener still listens, and a TCP socket that
// is neither listening nor connected is still tcp.
func TestAnUnservableSocketIsDescribedTheSameAfterACall(t *testing.T) {
	want := []string{
		`fd 3 "vsock": other listener`,
		`fd 4 "idle": tcp socket on 0.0.0.0:0`,
	}
	for _, first := range []string{"yes", "no"} {
		t.Run("described first: "+first, func(t *testing.T) {
			vsock := vsockListener(t)
			unconnected := rawSocket(t, "unconnected", unix.AF_INET, unix.SOCK_STREAM, 0, nil, false)
			r := run(t, childProc{scenario: "describe-around", files: []*os.File{vsock, unconnected},
				env:   append(activated(2, "vsock", "idle"), "ACTIVATION_TEST_DESCRIBE_FIRST="+first),
				calls: []call{listenersCall(), connsCall()}})
			var lines []string
			if first == "yes" {
				for _, w := range want {
					lines = append(lines, "before: "+w)
				}
			}
			lines = append(lines, "Listeners: [], <nil>", "Conns: [], <nil>")
			for _, w := range want {
				lines = append(lines, "after: "+w)
			}
			diff(t, "lines", lines, r.Lines)
			diff(t, "problems", []string(nil), r.Problems)
		})
	}
}
