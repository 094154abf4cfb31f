//go:build linux

package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// comparesOpenFiles reports whether the kernel tells two open file
// descriptions of one file apart, with F_DUPFD_QUERY (Linux 6.10) or kcmp
// (which a seccomp filter may forbid). Where it cannot, systemd's fallback
// takes two opens of one file with the same flags for one.
func comparesOpenFiles(t *testing.T) bool {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_QUERY, fd); err == nil {
		return true
	}
	pid := uintptr(os.Getpid())
	_, _, errno := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(fd), uintptr(fd), 0)
	if errno != 0 {
		t.Logf("neither F_DUPFD_QUERY nor kcmp works here (kcmp: %v): two opens of one file with the same flags count as one", errno)
	}
	return errno == 0
}
