//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// syncBuffer is a bytes.Buffer that the notifier's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Lines returns the lines written so far.
func (b *syncBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// notifierTest is a notifier run inside the test process, which sends it
// messages as its program would.
type notifierTest struct {
	t      *testing.T
	n      *notifier
	stderr *syncBuffer
}

// newNotifierTest starts a notifier and closes it at the end of the test.
func newNotifierTest(t *testing.T) *notifierTest {
	t.Helper()
	out := &syncBuffer{}
	n, err := newNotifier(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	return &notifierTest{t: t, n: n, stderr: out}
}

// send sends msg with fds from this process and returns once the notifier
// has handled it: it sends a barrier after it and waits until the
// notifier closes the barrier's pipe.
func (nt *notifierTest) send(msg string, fds ...int) {
	nt.t.Helper()
	nt.sendOnly(msg, fds...)
	r, w, err := os.Pipe()
	if err != nil {
		nt.t.Fatal(err)
	}
	defer r.Close()
	nt.sendOnly("BARRIER=1", int(w.Fd()))
	w.Close()
	r.SetReadDeadline(time.Now().Add(timeout))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		nt.t.Fatalf("barrier after %q: read %d bytes, %v; want EOF", msg, n, err)
	}
}

// sendOnly sends msg with fds and returns at once.
func (nt *notifierTest) sendOnly(msg string, fds ...int) {
	nt.t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		nt.t.Fatal(err)
	}
	defer unix.Close(fd)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, []byte(msg), oob, &unix.SockaddrUnix{Name: nt.n.path}, 0); err != nil {
		nt.t.Fatalf("sending %q: %v", msg, err)
	}
}

// stored returns the names of the stored fds, in the order they would be
// passed.
func (nt *notifierTest) stored() []string {
	nt.t.Helper()
	var got []string
	err := nt.n.handOver(func(files []*os.File, names []string) error {
		got = append([]string(nil), names...)
		return nil
	})
	if err != nil {
		nt.t.Fatal(err)
	}
	return got
}

// openFD opens name and returns its fd, closed at the end of the test.
func openFD(t *testing.T, name string, flag int) int {
	t.Helper()
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func TestFDStoreKeepsDistinctOpenFiles(t *testing.T) {
	nt := newNotifierTest(t)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer closeFDs(p[:])
	nt.send("FDSTORE=1\nFDNAME=read-end", p[0])
	nt.send("FDSTORE=1\nFDNAME=write-end", p[1])
	nt.send("FDSTORE=1\nFDNAME=null", openFD(t, os.DevNull, os.O_RDWR))
	nt.send("FDSTORE=1\nFDNAME=null-again", openFD(t, os.DevNull, os.O_RDWR))
	nt.send("FDSTORE=1\nFDNAME=file", openFD(t, path, os.O_RDONLY))
	nt.send("FDSTORE=1\nFDNAME=file-again", openFD(t, path, os.O_RDONLY))
	nt.send("FDSTORE=1\nFDNAME=read-end-again", p[0])
	twice := openFD(t, path, os.O_WRONLY)
	nt.send("FDSTORE=1\nFDNAME=sent-twice", twice, twice)
	want := []string{"read-end", "write-end", "null", "null-again", "file", "file-again", "sent-twice"}
	if !comparesOpenFiles(t) {
		// systemd's fallback: same inode, same flags.
		want = []string{"read-end", "write-end", "null", "null-again", "file", "sent-twice"}
	}
	if got := nt.stored(); !reflect.DeepEqual(got, want) {
		t.Errorf("stored fds:\n%s", diff(want, got))
	}
}
