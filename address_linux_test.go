package activation_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

// A relative unix socket path names a file in the working directory: it
// does not match a socket bound to the same relative name in another
// directory, nor a socket whose file was replaced.
func TestListenOnAUnixPathDoesNotMatchAnotherFile(t *testing.T) {
	root := filepath.Dir(activationtest.SocketPath(t, "x"))
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inA := bindRelative(t, a, "app.sock")
	replaced := unixListener(t, "unix", filepath.Join(b, "old.sock"))
	if err := os.Remove(filepath.Join(b, "old.sock")); err != nil {
		t.Fatal(err)
	}
	unixListener(t, "unix", filepath.Join(b, "old.sock")) // another socket on that path now
	for _, tt := range []struct {
		name, dir string
		call      call
		want      callResult
	}{
		{"the same relative name in the directory it was bound in matches", a, listenCall("unix", "app.sock"),
			callResult{Items: []string{"*net.UnixListener unix app.sock"}}},
		{"the same relative name in another directory does not", b, listenCall("unix", "app.sock"),
			callResult{Items: []string{"*net.UnixListener unix app.sock"}}},
		{"a path whose file was replaced does not", b, listenCall("unix", "old.sock"),
			callResult{Err: "listen unix old.sock: bind: address already in use"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(b, "app.sock"))
			r := run(t, childProc{
				scenario: "calls",
				files:    []*os.File{inA, replaced.file},
				env:      activated(2),
				calls:    []call{tt.call},
				dir:      tt.dir,
			})
			tt.want.Call = tt.call.String()
			diff(t, "calls", tt.want, r.Calls[0])
			claimed := strings.HasSuffix(r.Inherited[0], ", claimed")
			if wantClaimed := tt.dir == a; claimed != wantClaimed {
				t.Errorf("the socket bound in %s claimed: %v, want %v (Inherited %q)", a, claimed, wantClaimed, r.Inherited)
			}
			if strings.HasSuffix(r.Inherited[1], ", claimed") {
				t.Errorf("the socket whose file was replaced was claimed: %q", r.Inherited)
			}
		})
	}
}

// bindRelative makes a unix listener bound to the relative name in dir,
// as a manager running in dir does, without changing the test's working
// directory: the bind runs on a thread with a working directory of its own.
func bindRelative(t *testing.T, dir, name string) *os.File {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its working directory
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- result{-1, err}
			return
		}
		if err := unix.Chdir(dir); err != nil {
			done <- result{-1, err}
			return
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			if err = unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err == nil {
				err = unix.Listen(fd, 8)
			}
		}
		done <- result{fd, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	f := os.NewFile(uintptr(r.fd), name)
	t.Cleanup(func() { f.Close() })
	return f
}

// Listen and ListenPacket with "sd-listen" or "sd-listen:NAME" choose
// among the sockets the net package can serve, as Listeners and
// PacketConns do: a vsock listener or a netlink socket beside the one TCP
// listener or UDP socket makes no ambiguity.
func TestSdListenChoosesAmongServableSockets(t *testing.T) {
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	files := []*os.File{vsockListener(t), web.file, netlinkSocket(t), dns.file}
	for _, tt := range []struct {
		names []string
		calls []call
		want  []string
	}{
		{[]string{"a", "b", "c", "d"}, []call{listenCall("tcp", "sd-listen"), listenPacketCall("udp", "sd-listen")},
			[]string{fmt.Sprintf("Listen tcp sd-listen: [%q], <nil>", web.desc), fmt.Sprintf("ListenPacket udp sd-listen: [%q], <nil>", dns.desc)}},
		{[]string{"x", "x", "y", "y"}, []call{listenCall("tcp", "sd-listen:x"), listenPacketCall("udp", "sd-listen:y")},
			[]string{fmt.Sprintf("Listen tcp sd-listen:x: [%q], <nil>", web.desc), fmt.Sprintf("ListenPacket udp sd-listen:y: [%q], <nil>", dns.desc)}},
	} {
		t.Run(fmt.Sprint(tt.calls), func(t *testing.T) {
			r := run(t, childProc{scenario: "describe-around", files: files, env: activated(4, tt.names...), calls: tt.calls})
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
func TestListenOnAUnixPathOnAnOverlay(t *testing.T) {
	dir := t.TempDir() // the lower layer, on the file system of the temporary directory
	for _, d := range []string{"lower", "layers", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "merged", "app.sock")
	type result struct {
		r   report
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
		r, err := runChildCmd("describe-around", childCommand(childProc{files: []*os.File{f}, env: activated(1, "app"),
			calls: []call{listenCall("unix", path)}}))
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
