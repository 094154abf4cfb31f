//go:build unix

package activation

import (
	"errors"
	"net"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// inheritedListeners makes n loopback listeners whose fds stand in for
// inherited ones: bare fds that no *os.File owns.
func inheritedListeners(t *testing.T, n int) (*fdSet, []string) {
	t.Helper()
	set := &fdSet{}
	var addrs []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		addrs = append(addrs, l.Addr().String())
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		set.fds = append(set.fds, inheritedFD{fd: int32(fd), name: "web", kind: KindSocket, class: listenerSocket})
	}
	t.Cleanup(func() {
		for _, e := range set.fds {
			if !e.claimed && e.parked == nil {
				unix.Close(int(e.fd))
			}
		}
	})
	return set, addrs
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("counting fds: %v", err)
		}
		t.Skip("no /proc/self/fd to count fds with")
	}
	return len(ents)
}

var errInjected = errors.New("injected failure")

// failingOn converts with toListener but fails on the fd of e.
func failingOn(fd int) converter[net.Listener] {
	return func(e *inheritedFD, f *os.File) (net.Listener, error) {
		if int(e.fd) == fd {
			return nil, errInjected
		}
		return toListener(e, f)
	}
}

func TestAFailedConversionClaimsNothingAndLosesNothing(t *testing.T) {
	for _, next := range []string{"Listeners", "Files"} {
		t.Run("then "+next+" gets every fd", func(t *testing.T) {
			set, addrs := inheritedListeners(t, 3)
			before := openFDs(t)

			vals, _, err := take(set, isListener, failingOn(int(set.fds[2].fd)), false)
			if !errors.Is(err, errInjected) || vals != nil {
				t.Fatalf("take = %v, %v; want nil and the conversion's error", vals, err)
			}
			for i, e := range set.fds {
				if e.claimed {
					t.Errorf("fd %d claimed by a failed call", i)
				}
			}
			if got := openFDs(t); got != before {
				t.Errorf("open fds: %d before the failed call, %d after", before, got)
			}

			var got []string
			switch next {
			case "Listeners":
				ls, _, err := take(set, isListener, toListener, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range ls {
					got = append(got, l.Addr().String())
					defer l.Close()
				}
			case "Files":
				fs, _, err := take(set, func(*inheritedFD) bool { return true }, handOver, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range fs {
					defer f.Close()
					if f.Name() != "web" {
						t.Errorf("file named %q, want %q", f.Name(), "web")
					}
					sa, err := unix.Getsockname(int(f.Fd()))
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, (&net.TCPAddr{IP: sa.(*unix.SockaddrInet4).Addr[:], Port: sa.(*unix.SockaddrInet4).Port}).String())
				}
			}
			if !reflect.DeepEqual(got, addrs) {
				t.Errorf("%s after the failure:\n-want %q\n+got  %q", next, addrs, got)
			}
			if n := openFDs(t); n != before {
				t.Errorf("open fds: %d before, %d holding what %s returned", before, n, next)
			}
			for _, e := range set.fds {
				if !e.claimed || e.parked != nil || e.file != nil {
					t.Errorf("fd %d after %s: claimed %v, parked %v, file %v", e.fd, next, e.claimed, e.parked, e.file)
				}
			}
		})
	}
}
