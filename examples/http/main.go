// Command http is a small HTTP server that works both socket-activated and
// started by hand. It answers every request with a greeting that says how it
// got its socket.
//
// Activated, it serves on the socket named "web" (hello-http.socket sets
// FileDescriptorName=web):
//
//	systemd-socket-activate -l 127.0.0.1:8080 --fdname=web ./http
//
// By hand, it listens itself:
//
//	./http --listen 127.0.0.1:8080
//
// On SIGTERM it answers every connection it accepted before it exits, and
// when the manager offers a file descriptor store (hello-http.service
// enables one) it hands its idle keep-alive connections to the next start
// instead of closing them, so that a restart under load fails no request.
// graceful.Serve does both; its package doc says why http.Server.Shutdown
// alone is not enough, and what a restart without a store can still lose.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
)

func main() {
	addr := flag.String("listen", "sd-listen:web", "`address` to serve on: host:port to listen by hand, sd-listen:NAME for the socket named NAME passed by systemd")
	flag.Parse()
	log.SetFlags(0)
	// Stop on SIGTERM, as systemd asks.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := activation.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	how := origin(l)
	log.Printf("serving on %s (%s)", l.Addr(), how)

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello from go-activation: %s\n", how)
		}),
		// Also bounds how long a silent client delays the shutdown.
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Serve until SIGTERM; then stop accepting, answer every connection
	// accepted (handing the idle ones to the next start when there is a
	// store), and exit. Connections not accepted yet wait in the listen
	// backlog of the socket, which systemd keeps, for the next start.
	if err := graceful.Serve(ctx, srv, l, 20*time.Second); err != nil {
		log.Fatal(err)
	}
}

// origin says where l came from: an inherited fd, or a socket of our own.
func origin(l net.Listener) string {
	infos, err := activation.Inherited()
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range infos {
		if info.Claimed && info.LocalAddr != nil && info.LocalAddr.String() == l.Addr().String() {
			return fmt.Sprintf("socket-activated, fd %d named %q", info.FD, info.Name)
		}
	}
	return "listening by itself"
}
