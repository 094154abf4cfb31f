package activation

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	pidfsMagic   = 0x50494446 // PID_FS_MAGIC
	fileIDKernfs = 0xfe       // FILEID_KERNFS
)

// ownPidfdID learns the inode id of this process's pidfd as libsystemd
// does for LISTEN_PIDFDID: a pidfd on pidfs, its 8-byte kernfs file
// handle, or else its inode number on 64-bit systems. ok is false when
// the kernel has no pidfs, and the check is then skipped.
func ownPidfdID() (id uint64, ok bool) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || uint32(fs.Type) != pidfsMagic {
		return 0, false
	}
	if h, _, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH); err == nil && h.Type() == fileIDKernfs && h.Size() == 8 {
		return binary.NativeEndian.Uint64(h.Bytes()), true
	}
	if strconv.IntSize == 64 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil {
			return uint64(st.Ino), true
		}
	}
	return 0, false
}

// isMessageQueue reports whether fd is a POSIX message queue, as
// sd_is_mq does: mq_getattr succeeds on it.
func isMessageQueue(fd int) bool {
	var attr [8]int // struct mq_attr: eight longs
	_, _, errno := unix.Syscall(unix.SYS_MQ_GETSETATTR, uintptr(fd), 0, uintptr(unsafe.Pointer(&attr)))
	return errno == 0
}

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC (Linux 5.11).
const closeRangeCloexec = 1 << 2

// markOpenRange sets FD_CLOEXEC on every open fd from first to last that
// lacks it, in one close_range system call, or else by listing
// /proc/self/fd; it reports false when it could do neither.
func markOpenRange(first, last int) bool {
	if unix.CloseRange(uint(first), uint(last), closeRangeCloexec) == nil {
		return true
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return false
	}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd >= first && fd <= last && fd != int(d.Fd()) {
			markIfInherited(fd)
		}
	}
	return true
}

// unnamed gives an unnamed unix socket (one end of a socketpair, an
// unbound socket) an empty name: Go's system call package reads the
// empty address Linux returns for it as the abstract name "@".
func unnamed(fd int, peer bool, a net.Addr) net.Addr {
	ua, ok := a.(*net.UnixAddr)
	if !ok || ua.Name != "@" {
		return a
	}
	call := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		call = unix.SYS_GETPEERNAME
	}
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	_, _, errno := unix.RawSyscall(call, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)))
	if errno != 0 || size > uint32(unsafe.Offsetof(rsa.Addr.Data)) {
		return a
	}
	return &net.UnixAddr{Name: "", Net: ua.Net}
}
