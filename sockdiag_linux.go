package activation

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// socketBoundTo reports whether the unix socket sock is bound to the file
// want, asking the kernel's sock_diag interface for the device and inode
// of the file the socket was bound to, as ss(8) does. known is false when
// the kernel does not answer (no unix_diag, a sandbox, a socket that is
// gone), or when its device number for the file is not stat's.
func socketBoundTo(sock sockID, want fileID) (match, known bool) {
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
			kdev := uint64(unix.Major(want.dev))<<20 | uint64(unix.Minor(want.dev))
			if ino == uint32(want.ino) && uint64(dev) != kdev {
				// stat may report a device of its own rather than the
				// file system's (a btrfs subvolume, an overlay whose
				// layers are on other file systems): the kernel's
				// answer cannot be compared with it.
				return false, false
			}
			return uint64(dev) == kdev && ino == uint32(want.ino), true
		}
		attrs = attrs[min(len(attrs), (l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
	}
	// No file: the socket is abstract or unnamed, or its file is gone.
	return false, true
}
