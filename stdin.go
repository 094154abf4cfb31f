package activation

import (
	"net"
)

// Inetd-style managers pass one socket as standard input (and standard
// output) with no LISTEN_* variables: systemd with StandardInput=socket (a
// connection with Accept=yes, else the listening socket),
// systemd-socket-activate --inetd, ucspi-tcp's tcpserver, xinetd. The
// Stdin functions take that socket, once per process, whatever the
// LISTEN_* variables say; Listen and ListenPacket take it for the address
// "fd:0".
//
// Once taken, standard input, and standard output when it is the same
// socket, are pointed at /dev/null, so that the returned value alone holds
// the socket: closing it closes the connection, and nothing the program
// writes to standard output reaches the client by accident.

// StdinInfo describes standard input without taking it: its kind and, for
// a socket, its network, whether it listens, and its addresses. Its FD is
// 0 and its Name "stdin"; Claimed reports whether a Stdin function took
// it.
func StdinInfo() (Info, error) {
	return stdinInfo()
}

// StdinListener returns standard input as a net.Listener when it is a
// listening stream socket (tcp, tcp6, unix, unixpacket), and an error
// saying what it is otherwise. The caller owns the listener.
func StdinListener() (net.Listener, error) {
	return takeStdin(isListener, toListener, "listener")
}

// StdinPacketConn returns standard input as a net.PacketConn when it is a
// datagram socket (udp, udp6, unixgram), and an error saying what it is
// otherwise. The caller owns the connection.
func StdinPacketConn() (net.PacketConn, error) {
	return takeStdin(isDatagram, toPacketConn, "datagram socket")
}

// StdinConn returns standard input as a net.Conn when it is a connected
// stream or seqpacket socket, what an inetd-style service is started with
// for each connection, and an error saying what it is otherwise. The
// caller owns the connection.
func StdinConn() (net.Conn, error) {
	return takeStdin(isStream, toConn, "connection")
}
