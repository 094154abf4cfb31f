//go:build freebsd

package main

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// FreeBSD's per-message credentials, from <sys/un.h> and <sys/socket.h>
// (FreeBSD 13 and later).
const (
	solLocal             = 0 // SOL_LOCAL
	localCredsPersistent = 3 // LOCAL_CREDS_PERSISTENT: credentials with every message
	scmCreds2            = 8 // SCM_CREDS2: a struct sockcred2
	sizeofSockcred2      = 32
)

// passCredentials asks the kernel to attach the sender's credentials
// (struct sockcred2, which holds its pid) to every message on the notify
// socket. It reports false without an error on a FreeBSD older than 13,
// which has no such option: messages then do not name their sender.
func passCredentials(fd int) (bool, error) {
	switch err := unix.SetsockoptInt(fd, solLocal, localCredsPersistent, 1); err {
	case nil:
		return true, nil
	case unix.ENOPROTOOPT, unix.EINVAL:
		return false, nil
	default:
		return false, os.NewSyscallError("setsockopt LOCAL_CREDS_PERSISTENT", err)
	}
}

// credentialSpace is room enough for the credentials in one message: a
// sockcred2 with up to CMGROUP_MAX (16) groups.
var credentialSpace = unix.CmsgSpace(sizeofSockcred2 + 16*4)

// sender returns the pid and user id of the process that sent a message,
// from the sockcred2 in its control data: sc_version (0), sc_pid, sc_uid.
func sender(oob []byte) (pid, uid int, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != scmCreds2 || len(m.Data) < sizeofSockcred2 {
			continue
		}
		if version := binary.NativeEndian.Uint32(m.Data[0:]); version != 0 {
			continue
		}
		pid := int32(binary.NativeEndian.Uint32(m.Data[4:]))
		if pid > 0 {
			return int(pid), int(binary.NativeEndian.Uint32(m.Data[8:])), true
		}
	}
	return 0, 0, false
}
