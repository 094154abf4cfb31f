//go:build unix && !(linux || freebsd || openbsd || solaris)

package activation

// soProtocol is 0: this system cannot tell a socket's protocol.
const soProtocol = 0
