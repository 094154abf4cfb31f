//go:build unix && !linux && !freebsd

package main

// passCredentials reports false: macOS, OpenBSD, NetBSD, DragonFly,
// illumos, Solaris and AIX attach no sender's pid to a datagram that the
// receiver can ask for (LOCAL_PEERCRED and getpeereid work on connected
// sockets only), so messages do not name their sender.
func passCredentials(fd int) (bool, error) { return false, nil }

// credentialSpace is 0: no credentials come with a message.
var credentialSpace = 0

// sender reports that a message does not name its sender.
func sender(oob []byte) (pid, uid int, ok bool) { return 0, 0, false }
