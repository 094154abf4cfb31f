//go:build linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// passCredentials asks the kernel to attach the sender's credentials
// (SCM_CREDENTIALS) to every message on the notify socket, as systemd
// does. It reports whether messages will name their sender.
func passCredentials(fd int) (bool, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return false, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	return true, nil
}

// credentialSpace is room enough for the credentials in one message.
var credentialSpace = unix.CmsgSpace(unix.SizeofUcred)

// sender returns the pid and user id of the process that sent a message,
// from its control data; ok is false when they are not there. The kernel
// vouches for them: only a privileged sender can claim another pid.
func sender(oob []byte) (pid, uid int, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, 0, false
	}
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_CREDENTIALS {
			continue
		}
		if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil && c.Pid > 0 {
			return int(c.Pid), int(c.Uid), true
		}
	}
	return 0, 0, false
}
