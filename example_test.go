package activation_test

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
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

// A server that serves every inherited listener logs each one's name and
// address in the order the manager passed them.
func ExampleNamedListeners() {
	listeners, err := activation.NamedListeners()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	for _, l := range listeners {
		log.Printf("serving %s on %s", l.Name, l.Addr())
		go srv.Serve(l) // a NamedListener is a net.Listener
	}
	fmt.Println(len(listeners), "listeners")
	// Output: 0 listeners
}

// An HTTPS server whose manager names its sockets: "public" and "admin".
func ExampleTLSListenersWithNames() {
	config := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		// Read at every handshake, so that a renewed certificate needs no restart.
		cert, err := tls.LoadX509KeyPair("/etc/web/cert.pem", "/etc/web/key.pem")
		return &cert, err
	}}
	byName, err := activation.TLSListenersWithNames(config)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range byName["public"] {
		go http.Serve(l, http.FileServer(http.Dir("/srv/www")))
	}
	fmt.Println(len(byName["public"]), "public listeners,", len(byName["admin"]), "admin listeners")
	// Output: 0 public listeners, 0 admin listeners
}

// An inetd-style service (systemd's Accept=yes with StandardInput=socket,
// systemd-socket-activate --inetd -a, tcpserver) serves the one
// connection on its standard input. Run by hand, standard input is not a
// socket, and StdinConn says what it is instead.
func ExampleStdinConn() {
	c, err := activation.StdinConn()
	if err != nil {
		fmt.Println("not started by an inetd-style manager")
		log.Print(err) // activation: standard input is not a connection: fd 0 "stdin": character device
		return
	}
	defer c.Close()
	io.Copy(c, c) // echo
	// Output: not started by an inetd-style manager
}
