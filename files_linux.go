package activation

import (
	"encoding/binary"
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
