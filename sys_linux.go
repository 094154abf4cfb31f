package activation

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls the first call makes for every inherited fd, made
// without telling the scheduler (raw), which roughly halves their cost in
// user space. None of them can block: they read a flag or a socket option,
// or duplicate or close an fd whose socket another fd holds.

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
// holds through another fd, or a stored connection whose peer is gone,
// which has nothing left to send: close does not block on either.
func closeFD(fd int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return os.NewSyscallError("close", e)
	}
	return nil
}

// dupTakesForkLock: Linux has F_DUPFD_CLOEXEC, so duplicating an fd
// close-on-exec takes no lock.
const dupTakesForkLock = false

// dupCloseOnExec duplicates fd, close-on-exec from the start.
func dupCloseOnExec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// soProtocol is the socket option that tells a socket's protocol.
const soProtocol = unix.SO_PROTOCOL

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

// socketBoundTo reports whether the unix socket whose inode number is sock
// is bound to the file of device wantDev and inode wantIno, asking the
// kernel's sock_diag interface for the device and inode of the file the
// socket was bound to, as ss(8) does. known is false when
// the kernel does not answer (no unix_diag, a sandbox, a socket that is
// gone), or when its device number for the file is not stat's.
func socketBoundTo(sock, wantDev, wantIno uint64) (match, known bool) {
	if sock == 0 || uint64(sock) > 1<<32-1 {
		return false, false
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	const (
		sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
		udiagShowVFS     = 2  // UDIAG_SHOW_VFS
		unixDiagVFS      = 1  // UNIX_DIAG_VFS
		hdrLen           = unix.SizeofNlMsghdr
		reqLen           = 24 // struct unix_diag_req
		msgLen           = 16 // struct unix_diag_msg
	)
	var req [hdrLen + reqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence number
	r := req[hdrLen:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	ne.PutUint32(r[8:], uint32(sock))
	ne.PutUint32(r[12:], udiagShowVFS)
	ne.PutUint32(r[16:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	ne.PutUint32(r[20:], ^uint32(0))
	if err := unix.Sendto(fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, false
	}
	var buf [512]byte
	n, _, err := unix.Recvfrom(fd, buf[:], 0)
	if err != nil || n < hdrLen+msgLen {
		return false, false
	}
	b := buf[:n]
	if size := ne.Uint32(b[0:]); int(size) < hdrLen+msgLen || int(size) > n || ne.Uint16(b[4:]) != sockDiagByFamily {
		return false, false // NLMSG_ERROR: no such socket, or no unix_diag
	}
	b = b[hdrLen:ne.Uint32(b[0:])]
	if ne.Uint32(b[4:]) != uint32(sock) {
		return false, false
	}
	for attrs := b[msgLen:]; len(attrs) >= unix.SizeofRtAttr; {
		l, typ := int(ne.Uint16(attrs[0:])), ne.Uint16(attrs[2:])
		if l < unix.SizeofRtAttr || l > len(attrs) {
			break
		}
		if typ == unixDiagVFS && l >= unix.SizeofRtAttr+8 {
			ino := ne.Uint32(attrs[unix.SizeofRtAttr:])
			dev := ne.Uint32(attrs[unix.SizeofRtAttr+4:])
			// The kernel gives its own dev_t, MAJOR << 20 | MINOR, and a
			// 32-bit inode number.
			kdev := uint64(unix.Major(wantDev))<<20 | uint64(unix.Minor(wantDev))
			if ino == uint32(wantIno) && uint64(dev) != kdev {
				// stat may report a device of its own rather than the
				// file system's (a btrfs subvolume, an overlay whose
				// layers are on other file systems): the kernel's
				// answer cannot be compared with it.
				return false, false
			}
			return uint64(dev) == kdev && ino == uint32(wantIno), true
		}
		attrs = attrs[min(len(attrs), (l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
	}
	// No file: the socket is abstract or unnamed, or its file is gone.
	return false, true
}
