//go:build linux || freebsd || openbsd

package activation

import "golang.org/x/sys/unix"

// soProtocol is the socket option that tells a socket's protocol.
const soProtocol = unix.SO_PROTOCOL
