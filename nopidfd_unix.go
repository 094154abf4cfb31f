//go:build unix && !linux

package activation

// ownPidfdID reports that this system has no pidfds, so LISTEN_PIDFDID is
// parsed but not compared, as libsystemd does where it cannot learn the id.
func ownPidfdID() (uint64, bool) { return 0, false }

// isMessageQueue reports false: POSIX message queues are not files here.
func isMessageQueue(fd int) bool { return false }
