package notify

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// msgNoSignal keeps a send to a closed stream from raising SIGPIPE.
const msgNoSignal = unix.MSG_NOSIGNAL

// resolve turns a parsed NOTIFY_SOCKET into a socket address and types.
func resolve(a address) (target, error) {
	switch a.kind {
	case kindPath, kindAbstract:
		// x/sys/unix turns a leading '@' into the abstract namespace's NUL
		// and leaves the trailing NUL out of the length, as systemd does.
		return target{family: unix.AF_UNIX, sa: &unix.SockaddrUnix{Name: a.name}, types: []int{unix.SOCK_DGRAM}}, nil
	case kindVsock:
		t := target{family: unix.AF_VSOCK, sa: &unix.SockaddrVM{CID: a.cid, Port: a.port}, privilegedPort: true, awaitClose: true}
		switch a.typ {
		case typeDgram:
			t.types = []int{unix.SOCK_DGRAM}
		case typeSeqpacket:
			t.types = []int{unix.SOCK_SEQPACKET}
		case typeStream:
			t.types = []int{unix.SOCK_STREAM}
		default:
			// "vsock:" means datagrams, falling back as systemd does when
			// the transport has none (QEMU's gives ENODEV).
			t.types = []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET, unix.SOCK_STREAM}
		}
		return t, nil
	}
	return target{}, errors.New("notify: unknown address kind")
}

func socketCloexec(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
}

// bindPrivilegedPort binds a vsock socket to the highest free port below
// 1024, as systemd does, so that the host can tell a privileged sender.
// Lacking the privilege is not an error.
func bindPrivilegedPort(fd int) error {
	var err error
	for port := uint32(1023); port > 0; port-- {
		err = unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port})
		if err != unix.EADDRINUSE {
			break
		}
	}
	if err == nil || err == unix.EPERM || err == unix.EACCES {
		return nil
	}
	return os.NewSyscallError("bind", err)
}

// credentials returns an SCM_CREDENTIALS message when the real and effective
// ids differ, as systemd sends one then, so that the manager sees the real
// ids. Otherwise it returns nil and the kernel fills in the process's own
// credentials for a receiver that asks (SO_PASSCRED).
func credentials() []byte {
	uid, gid := unix.Getuid(), unix.Getgid()
	if uid == unix.Geteuid() && gid == unix.Getegid() {
		return nil
	}
	return unix.UnixCredentials(&unix.Ucred{Pid: int32(unix.Getpid()), Uid: uint32(uid), Gid: uint32(gid)})
}
