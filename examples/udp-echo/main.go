// Command udp-echo sends every datagram it receives back to its sender. It
// works both socket-activated and started by hand.
//
// Activated, it serves on the datagram socket named "echo"
// (udp-echo.socket sets FileDescriptorName=echo), UDP or unixgram:
//
//	systemd-socket-activate --datagram -l 127.0.0.1:7007 --fdname=echo ./udp-echo
//
// By hand, it listens itself:
//
//	./udp-echo --listen 127.0.0.1:7007
package main

import (
	"flag"
	"log"

	"github.com/go-activation/activation"
)

func main() {
	network := flag.String("network", "udp", "`network` to listen on by hand: udp, udp4, udp6 or unixgram")
	addr := flag.String("listen", "sd-listen:echo", "`address` to serve on: host:port (or a path for unixgram) to listen by hand, sd-listen:NAME for the socket named NAME passed by systemd")
	flag.Parse()
	log.SetFlags(0)

	pc, err := activation.ListenPacket(*network, *addr)
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	log.Printf("echoing datagrams on %s %s", pc.LocalAddr().Network(), pc.LocalAddr())

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
