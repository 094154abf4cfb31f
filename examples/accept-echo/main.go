// Command accept-echo is a per-connection echo server for Accept=yes socket
// units: systemd accepts each connection itself and starts one accept-echo
// for it, with the connected socket as fd 3. accept-echo sends back
// everything it reads until the client closes its side, then exits.
//
//	systemd-socket-activate --accept -l 127.0.0.1:7008 ./accept-echo
package main

import (
	"io"
	"log"

	"github.com/go-activation/activation"
)

func main() {
	log.SetFlags(0)
	conns, err := activation.Conns()
	if err != nil {
		log.Fatal(err)
	}
	if len(conns) == 0 {
		log.Fatal("accept-echo: no connection was passed: run it from a socket unit with Accept=yes, or with systemd-socket-activate --accept")
	}
	for _, c := range conns {
		if _, err := io.Copy(c, c); err != nil {
			log.Printf("echoing to %s: %v", c.RemoteAddr(), err)
		}
		c.Close()
	}
}
