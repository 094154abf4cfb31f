package activation_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// rawSocket opens a socket of any family, binds it to sa if sa is not
// nil, and listens on it if listen is set.
func rawSocket(t *testing.T, name string, domain, typ, proto int, sa unix.Sockaddr, listen bool) *os.File {
	t.Helper()
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		msg := fmt.Sprintf("cannot open a %s socket: %v", name, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	f := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { f.Close() })
	if sa != nil {
		if err := unix.Bind(fd, sa); err != nil {
			t.Fatalf("%s: bind: %v", name, err)
		}
	}
	if listen {
		if err := unix.Listen(fd, 8); err != nil {
			t.Fatalf("%s: listen: %v", name, err)
		}
	}
	return f
}

func vsockListener(t *testing.T) *os.File {
	return rawSocket(t, "vsock", unix.AF_VSOCK, unix.SOCK_STREAM, 0,
		&unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: unix.VMADDR_PORT_ANY}, true)
}

func netlinkSocket(t *testing.T) *os.File {
	return rawSocket(t, "netlink", unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_ROUTE, nil, false)
}

func packetSocket(t *testing.T) *os.File {
	return rawSocket(t, "packet", unix.AF_PACKET, unix.SOCK_DGRAM, 0, nil, false)
}

// A call converts its sockets one after another through one carrier fd;
// a socket the net package cannot serve (a vsock listener, a netlink or
// packet datagram socket, a stream socket that is not connected) in the
// middle of such a run is skipped and left for Files, and every other
// socket, blocking or not, comes out working, one fd each.
func TestAdversaryUnservableSocketsInTheMiddleOfARun(t *testing.T) {
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
		env:      append(activated(len(all)), "ACTIVATION_TEST_CALLS=Listeners,Conns,PacketConns,Files,Listeners,Conns,PacketConns"),
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
func TestAdversaryAnUnservableSocketIsDescribedTheSameAfterACall(t *testing.T) {
	want := []string{
		`fd 3 "vsock": other listener`,
		`fd 4 "idle": tcp socket on 0.0.0.0:0`,
	}
	for _, first := range []string{"yes", "no"} {
		t.Run("described first: "+first, func(t *testing.T) {
			vsock := vsockListener(t)
			unconnected := rawSocket(t, "unconnected", unix.AF_INET, unix.SOCK_STREAM, 0, nil, false)
			r := runAdversary(t, "describe-around", []*os.File{vsock, unconnected},
				append(activated(2, "vsock", "idle"), "ACTIVATION_TEST_CALLS=Listeners,Conns", "ACTIVATION_TEST_DESCRIBE_FIRST="+first)...)
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

// Listen and ListenPacket with "sd-listen" or "sd-listen:NAME" choose
// among the sockets the net package can serve, as Listeners and
// PacketConns do: a vsock listener or a netlink socket beside the one TCP
// listener or UDP socket makes no ambiguity.
func TestAdversarySdListenChoosesAmongServableSockets(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	files := []*os.File{vsockListener(t), web.file, netlinkSocket(t), dns.file}
	for _, tt := range []struct {
		names []string
		calls string
		want  []string
	}{
		{[]string{"a", "b", "c", "d"}, "Listen tcp sd-listen,ListenPacket udp sd-listen",
			[]string{fmt.Sprintf("Listen tcp sd-listen: [%q], <nil>", web.desc), fmt.Sprintf("ListenPacket udp sd-listen: [%q], <nil>", dns.desc)}},
		{[]string{"x", "x", "y", "y"}, "Listen tcp sd-listen:x,ListenPacket udp sd-listen:y",
			[]string{fmt.Sprintf("Listen tcp sd-listen:x: [%q], <nil>", web.desc), fmt.Sprintf("ListenPacket udp sd-listen:y: [%q], <nil>", dns.desc)}},
	} {
		t.Run(tt.calls, func(t *testing.T) {
			r := runAdversary(t, "describe-around", files, append(activated(4, tt.names...), "ACTIVATION_TEST_CALLS="+tt.calls)...)
			var got []string
			for _, l := range r.Lines {
				if strings.HasPrefix(l, "Listen") {
					got = append(got, l)
				}
			}
			diff(t, "calls", tt.want, got)
			diff(t, "problems", []string(nil), r.Problems)
		})
	}
}

// On an overlay file system whose layers are on other file systems (and
// on btrfs, for every subvolume), stat reports a device number of its own,
// not the one the kernel gives for the file a unix socket is bound to: a
// path still names the file the inherited socket is bound to, and Listen
// takes that socket rather than failing with "address already in use".
func TestAdversaryListenOnAUnixPathOnAnOverlay(t *testing.T) {
	dir := t.TempDir() // the lower layer, on the file system of the temporary directory
	for _, d := range []string{"lower", "layers", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "merged", "app.sock")
	type result struct {
		r   advReport
		err error
		ns  bool // the mount namespace could not be made
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its mount namespace
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- result{err: err, ns: true}
			return
		}
		steps := []func() error{
			func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") },
			func() error { return unix.Mount("tmpfs", filepath.Join(dir, "layers"), "tmpfs", 0, "") },
			func() error { return os.Mkdir(filepath.Join(dir, "layers", "upper"), 0o755) },
			func() error { return os.Mkdir(filepath.Join(dir, "layers", "work"), 0o755) },
			func() error {
				return unix.Mount("overlay", filepath.Join(dir, "merged"), "overlay", 0, fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
					filepath.Join(dir, "lower"), filepath.Join(dir, "layers", "upper"), filepath.Join(dir, "layers", "work")))
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				done <- result{err: err, ns: true}
				return
			}
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer l.Close()
		f, err := l.(*net.UnixListener).File()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		r, err := adversaryChild("describe-around", []*os.File{f}, append(activated(1, "app"), "ACTIVATION_TEST_CALLS=Listen unix "+path)...)
		done <- result{r: r, err: err}
	}()
	res := <-done
	if res.ns {
		msg := "cannot make an overlay in a mount namespace of its own (root is needed): " + res.err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	diff(t, "lines", []string{
		`before: fd 3 "app": unix listener on ` + path,
		`Listen unix ` + path + `: ["*net.UnixListener unix ` + path + `"], <nil>`,
		`after: fd 3 "app": unix listener on ` + path + `, claimed`,
	}, res.r.Lines)
	diff(t, "problems", []string(nil), res.r.Problems)
}

// Every kind of fd is described as what it is, and goes to the call for
// it: O_PATH handles as the file they name (a socket file's as other), a
// directory, a character device, anonymous inodes, a memfd, a raw socket;
// UDP-Lite and MPTCP as the UDP and TCP the net package serves them as.
func TestAdversaryEveryKindIsDescribedAndTakenByItsCall(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "s.sock")
	unixListener(t, "unix", sockPath)
	if err := os.WriteFile(filepath.Join(dir, "reg"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	var names []string
	add := func(name string) func(int, error) {
		return func(fd int, err error) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			f := os.NewFile(uintptr(fd), name)
			t.Cleanup(func() { f.Close() })
			files, names = append(files, f), append(names, name)
		}
	}
	add("opath-sock")(unix.Open(sockPath, unix.O_PATH|unix.O_CLOEXEC, 0))
	add("opath-reg")(unix.Open(filepath.Join(dir, "reg"), unix.O_PATH|unix.O_CLOEXEC, 0))
	add("dir")(unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0))
	add("null")(unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0))
	add("eventfd")(unix.Eventfd(0, unix.EFD_CLOEXEC))
	add("memfd")(unix.MemfdCreate("state", unix.MFD_CLOEXEC))
	raw := rawSocket(t, "raw", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, nil, false)
	files, names = append(files, raw), append(names, "raw")
	loopback := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	udplite := rawSocket(t, "udplite", unix.AF_INET, unix.SOCK_DGRAM, ipprotoUDPLite, loopback, false)
	files, names = append(files, udplite), append(names, "udplite")
	mptcp := rawSocket(t, "mptcp", unix.AF_INET, unix.SOCK_STREAM, ipprotoMPTCP, loopback, true)
	files, names = append(files, mptcp), append(names, "mptcp")
	gram := rawSocket(t, "gram", unix.AF_UNIX, unix.SOCK_DGRAM, 0, nil, false)
	files, names = append(files, gram), append(names, "gram")
	port := func(f *os.File) int {
		sa, err := unix.Getsockname(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return sa.(*unix.SockaddrInet4).Port
	}
	udpliteAddr, mptcpAddr := fmt.Sprintf("127.0.0.1:%d", port(udplite)), fmt.Sprintf("127.0.0.1:%d", port(mptcp))

	r := runAdversary(t, "describe-around", files,
		append(activated(len(files), names...), "ACTIVATION_TEST_CALLS=Listeners,PacketConns unused,Conns,Files")...)
	kinds := []string{
		`fd 3 "opath-sock": other`,
		`fd 4 "opath-reg": regular file`,
		`fd 5 "dir": other`,
		`fd 6 "null": character device`,
		`fd 7 "eventfd": other`,
		`fd 8 "memfd": regular file`,
		`fd 9 "raw": other socket on 0.0.0.0`,
		`fd 10 "udplite": udp socket on ` + udpliteAddr,
		`fd 11 "mptcp": tcp listener on ` + mptcpAddr,
		`fd 12 "gram": unixgram socket on (unnamed)`,
	}
	var want []string
	for _, k := range kinds {
		want = append(want, "before: "+k)
	}
	want = append(want,
		`Listeners: ["*net.TCPListener tcp `+mptcpAddr+`"], <nil>`,
		`PacketConns unused: ["*net.UDPConn udp `+udpliteAddr+`" "*net.UnixConn unixgram @"], <nil>`,
		`Conns: [], <nil>`,
		`Files: ["*os.File opath-sock mode 140000" "*os.File opath-reg mode 100000" "*os.File dir mode 40000" "*os.File null mode 20000" `+
			`"*os.File eventfd mode 0" "*os.File memfd mode 100000" "*os.File raw mode 140000"], <nil>`)
	for _, k := range kinds {
		want = append(want, "after: "+k+", claimed")
	}
	diff(t, "lines", want, r.Lines)
	diff(t, "problems", []string(nil), r.Problems)
}

const (
	ipprotoUDPLite = 136 // IPPROTO_UDPLITE
	ipprotoMPTCP   = 262 // IPPROTO_MPTCP
)
