package activation

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls the first call makes for every inherited fd, made
// without telling the scheduler (raw), which roughly halves their cost in
// user space. None of them can block: they read or set a flag, or drop an
// fd table entry whose socket another fd holds.

// fdFlags returns fd's flags (F_GETFD).
func fdFlags(fd int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFD, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// socketOption returns the integer socket option opt of fd (SOL_SOCKET).
func socketOption(fd, opt int) (int, error) {
	var v int32
	size := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, uintptr(opt),
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&size)), 0)
	switch e {
	case 0:
		return int(v), nil
	case unix.ENOSYS: // a kernel that has getsockopt only through socketcall
		return unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
	}
	return 0, e
}

// haveDupOnto: Linux has dup3, which dupOnto needs.
const haveDupOnto = true

// dupOnto makes fd to a close-on-exec duplicate of from. What to held is
// a duplicate of a socket another fd holds, so dup3 does not block on it.
func dupOnto(from, to int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_DUP3, uintptr(from), uintptr(to), unix.O_CLOEXEC); e != 0 {
		return os.NewSyscallError("dup3", e)
	}
	return nil
}

// closeFD closes an inherited fd whose socket a value of the package
// holds through another fd, so that close does not block.
func closeFD(fd int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return os.NewSyscallError("close", e)
	}
	return nil
}
