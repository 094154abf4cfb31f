//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// sameFileByStat is systemd's fallback in same_fd for systems that cannot
// compare open file descriptions: a and b are taken for the same one when
// they are the same inode, not a device, with the same file status flags
// (which tells the two ends of a pipe apart). Two opens of one file with
// the same flags look the same to it.
func sameFileByStat(a, b int) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	typ := uint32(sa.Mode) & unix.S_IFMT
	if uint64(sa.Dev) != uint64(sb.Dev) || uint64(sa.Ino) != uint64(sb.Ino) || typ != uint32(sb.Mode)&unix.S_IFMT {
		return false, nil
	}
	if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
		// Two fds of one device may be different device contexts.
		return false, nil
	}
	fa, err := unix.FcntlInt(uintptr(a), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	fb, err := unix.FcntlInt(uintptr(b), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl", err)
	}
	return fa == fb, nil
}
