package activation_test

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/go-activation/activation"
)

// A server that serves HTTP on every listening socket the manager passed.
// Run by hand, without sockets, it says so.
func ExampleListeners() {
	listeners, err := activation.Listeners()
	if err != nil {
		log.Fatal(err)
	}
	if len(listeners) == 0 {
		fmt.Println("not socket-activated: no listeners")
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})}
	for _, l := range listeners[1:] {
		go srv.Serve(l)
	}
	log.Fatal(srv.Serve(listeners[0]))
	// Output: not socket-activated: no listeners
}

// One flag value works both ways: --listen sd-listen:web under a manager
// that names its socket web, --listen 127.0.0.1:8080 by hand.
func ExampleListen() {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("listen", "sd-listen:web", "socket to serve on: sd-listen[:NAME] or host:port")
	fs.Parse([]string{"--listen", "127.0.0.1:0"})

	l, err := activation.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println(l.Addr().Network())
	// Output: tcp
}

// A UDP service takes its datagram sockets.
func ExamplePacketConns() {
	pcs, err := activation.PacketConns()
	if err != nil {
		log.Fatal(err)
	}
	for _, pc := range pcs {
		go func(pc net.PacketConn) {
			buf := make([]byte, 64<<10)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}(pc)
	}
	fmt.Println(len(pcs), "datagram sockets")
	// Output: 0 datagram sockets
}

// A service started with Accept=yes gets one connection, already accepted.
func ExampleConns() {
	conns, err := activation.Conns()
	if err != nil {
		log.Fatal(err)
	}
	if len(conns) != 1 {
		fmt.Println("expected one connection, got", len(conns))
		return
	}
	defer conns[0].Close()
	fmt.Fprintln(conns[0], "hello, peer")
	// Output: expected one connection, got 0
}

// What was inherited, for a log line or a health page.
func ExampleInherited() {
	infos, err := activation.Inherited()
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range infos {
		fmt.Println(info) // fd 3 "web": tcp listener on [::]:80, claimed
	}
	fmt.Println(len(infos), "fds inherited")
	// Output: 0 fds inherited
}
