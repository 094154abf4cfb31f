//go:build unix && !linux

package activation

import "net"

// ownPidfdID reports that this system has no pidfds, so LISTEN_PIDFDID is
// parsed but not compared, as libsystemd does where it cannot learn the id.
func ownPidfdID() (uint64, bool) { return 0, false }

// isMessageQueue reports false: POSIX message queues are not files here.
func isMessageQueue(fd int) bool { return false }

// markOpenRange reports false: the fds are marked one by one.
func markOpenRange(first, last int) bool { return false }

// unnamed returns a as it is: here an unnamed unix socket's name is empty.
func unnamed(fd int, peer bool, a net.Addr) net.Addr { return a }

// socketBoundTo reports that this system cannot tell which file a unix
// socket is bound to.
func socketBoundTo(sock sockID, want fileID) (match, known bool) { return false, false }
