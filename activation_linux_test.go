package activation_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Every kind of fd is described as what it is, and goes to the call for
// it: O_PATH handles as the file they name (a socket file's as other), a
// directory, a character device, anonymous inodes, a memfd, a raw socket;
// UDP-Lite and MPTCP as the UDP and TCP the net package serves them as.
func TestEveryKindIsDescribedAndTakenByItsCall(t *testing.T) {
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

	r := run(t, childProc{scenario: "describe-around", files: files, env: activated(len(files), names...),
		calls: []call{listenersCall(), packetConnsUnusedCall(), connsCall(), filesCall()}})
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
