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
// With --all it serves on every listening socket the manager passes, whatever
// their names, and logs them in the order the manager passed them:
//
//	systemd-socket-activate -l 127.0.0.1:8080 -l 127.0.0.1:8081 --fdname=web:admin ./http --all
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
	all := flag.Bool("all", false, "serve on every listening socket systemd passed, whatever its name, instead of --listen")
	flag.Parse()
	log.SetFlags(0)
	// Stop on SIGTERM, as systemd asks.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var serve []served
	if *all {
		// In the order the manager passed them, which a map of names
		// (ListenersWithNames) would lose.
		named, err := activation.NamedListeners()
		if err != nil {
			log.Fatal(err)
		}
		if len(named) == 0 {
			log.Fatal("--all: no listening socket was passed")
		}
		for i, nl := range named {
			how := fmt.Sprintf("socket-activated, socket %d of %d, named %q", i+1, len(named), nl.Name)
			serve = append(serve, served{nl.Listener, how})
		}
	} else {
		l, err := activation.Listen("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		serve = append(serve, served{l, origin(l)})
	}

	// Serve until SIGTERM; then stop accepting, answer every connection
	// accepted (handing the idle ones to the next start when there is a
	// store), and exit. Connections not accepted yet wait in the listen
	// backlog of the socket, which systemd keeps, for the next start.
	errs := make(chan error, len(serve))
	for _, s := range serve {
		log.Printf("serving on %s (%s)", s.l.Addr(), s.how)
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "Hello from go-activation: %s\n", s.how)
			}),
			// Also bounds how long a silent client delays the shutdown.
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() { errs <- graceful.Serve(ctx, srv, s.l, 20*time.Second) }()
	}
	failed := false
	for range serve {
		if err := <-errs; err != nil {
			// The others stop too, as on SIGTERM.
			log.Print(err)
			failed = true
			stop()
		}
	}
	if failed {
		os.Exit(1)
	}
}

// served is a listener and what the server answers on it: how it got it.
type served struct {
	l   net.Listener
	how string
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
