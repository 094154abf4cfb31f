//go:build unix

package activation

import (
	"net"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// describe learns a socket's network and addresses from its fd, once, if
// the fd is still the package's to look at.
func describe(e *inheritedFD) {
	if e.described || e.claimed {
		return
	}
	e.described = true
	if e.kind != KindSocket {
		return
	}
	fd := int(e.fd)
	if e.sotype == 0 {
		sotype, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return
		}
		e.sotype = int8(sotype)
	}
	// The syscall package's getsockname, unlike x/sys's, does not ask
	// for the protocol of every inet socket.
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return
	}
	served := e.class != otherSocket
	e.laddr = unnamed(fd, false, sockaddrToAddr(sa, int(e.sotype), served))
	if e.class != listenerSocket {
		if peer, err := syscall.Getpeername(fd); err == nil {
			e.raddr = unnamed(fd, true, sockaddrToAddr(peer, int(e.sotype), served))
		}
	}
}

// sockaddrToAddr is the net package's address for sa on a socket of type
// sotype, or nil for families and types the net package does not serve.
// For an inet socket the net package does not serve (served is false:
// an ICMP socket, a raw socket) it is an *net.IPAddr.
func sockaddrToAddr(sa syscall.Sockaddr, sotype int, served bool) net.Addr {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return ipAddr(net.IP(append([]byte(nil), sa.Addr[:]...)), sa.Port, "", sotype, served)
	case *syscall.SockaddrInet6:
		zone := ""
		if sa.ZoneId != 0 {
			zone = strconv.FormatUint(uint64(sa.ZoneId), 10)
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return ipAddr(net.IP(append([]byte(nil), sa.Addr[:]...)), sa.Port, zone, sotype, served)
	case *syscall.SockaddrUnix:
		switch sotype {
		case unix.SOCK_STREAM:
			return &net.UnixAddr{Name: sa.Name, Net: "unix"}
		case unix.SOCK_DGRAM:
			return &net.UnixAddr{Name: sa.Name, Net: "unixgram"}
		case unix.SOCK_SEQPACKET:
			return &net.UnixAddr{Name: sa.Name, Net: "unixpacket"}
		}
	}
	return nil
}

func ipAddr(ip net.IP, port int, zone string, sotype int, served bool) net.Addr {
	switch {
	case !served:
		return &net.IPAddr{IP: ip, Zone: zone}
	case sotype == unix.SOCK_STREAM:
		return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
	case sotype == unix.SOCK_DGRAM:
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return nil
}

// fileID identifies a file: its device and inode numbers.
type fileID struct{ dev, ino uint64 }

// fileOf identifies the file path names, following symbolic links.
func fileOf(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// sockID identifies a socket to the kernel: its inode number, 0 if unknown.
type sockID uint64

func unixSockID(fd int) sockID {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	return sockID(st.Ino)
}

// isV6Only reports whether an IPv6 socket refuses IPv4 (IPV6_V6ONLY).
func isV6Only(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	return err == nil && v != 0
}
