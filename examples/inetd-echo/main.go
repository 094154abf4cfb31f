// Command inetd-echo is an echo server for inetd-style managers, which pass
// the socket as standard input and output, with no LISTEN_* variables:
// systemd with StandardInput=socket, systemd-socket-activate --inetd,
// ucspi-tcp's tcpserver, xinetd.
//
// What it does follows what standard input is:
//
//   - a connection (Accept=yes, --inetd --accept, tcpserver): it sends back
//     everything it reads until the client closes its side, then exits;
//   - a listening socket (Accept=no, --inetd without --accept): it accepts
//     connections on it and echoes each, until it is stopped;
//   - a datagram socket (ListenDatagram= with Accept=no, --inetd
//     --datagram): it sends every datagram back to its sender.
//
// Anything else, a terminal when it is run by hand, is an error that says a
// socket was expected.
//
//	systemd-socket-activate --inetd --accept -l 127.0.0.1:7009 ./inetd-echo
//	systemd-socket-activate --inetd -l 127.0.0.1:7010 ./inetd-echo
//	tcpserver 127.0.0.1 7009 ./inetd-echo
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"github.com/go-activation/activation"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("inetd-echo: ")
	stdin, err := activation.StdinInfo()
	if err != nil {
		log.Fatal(err)
	}
	switch {
	case stdin.Kind != activation.KindSocket:
		fmt.Fprintf(os.Stderr, "inetd-echo: standard input is a %s, not a socket.\n"+
			"inetd-echo expects a socket there: start it from a socket unit with StandardInput=socket,\n"+
			"with systemd-socket-activate --inetd, or with tcpserver (see examples/inetd-echo/README.md).\n", stdin.Kind)
		os.Exit(2)
	case stdin.Listening:
		l, err := activation.StdinListener()
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("echoing connections on %s %s", l.Addr().Network(), l.Addr())
		serve(l)
	case stdin.Network == "udp" || stdin.Network == "udp6" || stdin.Network == "unixgram":
		pc, err := activation.StdinPacketConn()
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("echoing datagrams on %s %s", pc.LocalAddr().Network(), pc.LocalAddr())
		echoDatagrams(pc)
	default:
		c, err := activation.StdinConn()
		if err != nil {
			log.Fatal(err)
		}
		echo(c)
	}
}

// serve echoes every connection l accepts, each in its own goroutine.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go echo(c)
	}
}

// echo sends back what c reads until the peer closes its side, then closes c.
func echo(c net.Conn) {
	defer c.Close()
	if _, err := io.Copy(c, c); err != nil {
		log.Printf("echoing to %s: %v", c.RemoteAddr(), err)
	}
}

// echoDatagrams sends every datagram pc receives back to its sender.
func echoDatagrams(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		if from == nil {
			continue // an unbound unixgram sender: there is no one to answer
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			log.Printf("answering %s: %v", from, err)
		}
	}
}
