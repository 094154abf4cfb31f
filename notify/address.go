package notify

import (
	"fmt"
	"strings"

	"github.com/go-activation/activation/internal/sdnum"
)

// addrKind says which kind of socket NOTIFY_SOCKET names.
type addrKind int

const (
	kindPath     addrKind = iota + 1 // AF_UNIX socket in the file system
	kindAbstract                     // AF_UNIX socket in Linux's abstract namespace
	kindVsock                        // AF_VSOCK socket
)

// sockType is the socket type asked for by a vsock address.
type sockType int

const (
	typeDefault   sockType = iota // "vsock:": datagram, falling back as systemd does
	typeDgram                     // "vsock-dgram:"
	typeSeqpacket                 // "vsock-seqpacket:"
	typeStream                    // "vsock-stream:"
)

// address is a parsed NOTIFY_SOCKET value.
type address struct {
	kind addrKind
	// name is the path, or for kindAbstract the name with its leading "@".
	name string
	// cid, port and typ are set for kindVsock.
	cid  uint32
	port uint32
	typ  sockType
}

// Special vsock context ids, as systemd names them.
const (
	cidHypervisor = 0
	cidLocal      = 1
	cidHost       = 2
	cidAny        = 1<<32 - 1
	portAny       = 1<<32 - 1
)

// maxPath is the room in sockaddr_un.sun_path (108 bytes on Linux), of which
// systemd keeps one for a terminating NUL, for abstract names too.
const maxPath = 108 - 1

// parseAddress reads a NOTIFY_SOCKET value as systemd's
// pid_notify_with_fds_internal does: an absolute path, "@" and an abstract
// name, or "vsock:CID:PORT" (also "vsock-stream:", "vsock-dgram:",
// "vsock-seqpacket:") with a specific CID. It touches no file descriptor.
func parseAddress(s string) (address, error) {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "@") {
		switch {
		case len(s) < 2:
			return address{}, addressError(s, "empty socket name")
		case len(s) > maxPath:
			return address{}, addressError(s, fmt.Sprintf("socket name longer than %d bytes", maxPath))
		case strings.IndexByte(s, 0) >= 0:
			return address{}, addressError(s, "NUL byte in socket name")
		}
		if s[0] == '@' {
			return address{kind: kindAbstract, name: s}, nil
		}
		return address{kind: kindPath, name: s}, nil
	}
	return parseVsock(s)
}

func parseVsock(s string) (address, error) {
	var (
		rest string
		typ  sockType
		ok   bool
	)
	for _, p := range []struct {
		prefix string
		typ    sockType
	}{
		{"vsock:", typeDefault},
		{"vsock-dgram:", typeDgram},
		{"vsock-seqpacket:", typeSeqpacket},
		{"vsock-stream:", typeStream},
	} {
		if rest, ok = strings.CutPrefix(s, p.prefix); ok {
			typ = p.typ
			break
		}
	}
	if !ok {
		return address{}, addressError(s, "want an absolute path, @ and an abstract name, or vsock:CID:PORT")
	}
	cidText, portText, ok := strings.Cut(rest, ":")
	if !ok {
		return address{}, addressError(s, "want vsock:CID:PORT")
	}
	port, err := sdnum.ParseUint(portText, 32)
	if err != nil {
		return address{}, addressError(s, fmt.Sprintf("vsock port %q: %v", portText, err))
	}
	if port == portAny {
		return address{}, addressError(s, "vsock port is VMADDR_PORT_ANY")
	}
	var cid uint64
	switch cidText {
	case "hypervisor":
		cid = cidHypervisor
	case "local":
		cid = cidLocal
	case "host":
		cid = cidHost
	case "", "any", "-1":
		cid = cidAny
	default:
		if cid, err = sdnum.ParseUint(cidText, 32); err != nil {
			return address{}, addressError(s, fmt.Sprintf("vsock CID %q: %v", cidText, err))
		}
	}
	if cid == cidAny {
		// systemd requires a specific peer.
		return address{}, addressError(s, "vsock CID is VMADDR_CID_ANY: a specific CID is required")
	}
	return address{kind: kindVsock, cid: uint32(cid), port: uint32(port), typ: typ}, nil
}

func addressError(value, why string) error {
	return fmt.Errorf("notify: invalid NOTIFY_SOCKET %q: %s", value, why)
}
