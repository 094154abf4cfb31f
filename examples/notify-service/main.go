// Command notify-service is an HTTP server that runs as a Type=notify systemd
// service: it reports readiness and status, feeds the watchdog, and keeps its
// listening socket in the manager's file descriptor store, so that a restart
// (for an upgrade, say) refuses no connection.
//
// It takes its listener from, in order: the sockets passed to it named -name
// (by notify-service.socket, or by the file descriptor store after an earlier
// run), or else a new listener on -addr, which it then stores under -name.
//
//	notify-service -addr :8080 -name web
//
// See README.md for the unit files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
	"github.com/go-activation/activation/notify"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on when no socket named -name is passed")
	name := flag.String("name", "web", "name of the listening socket in LISTEN_FDNAMES and in the file descriptor store")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*addr, *name); err != nil {
		log.Fatal(err)
	}
}

func run(addr, name string) error {
	// Before READY=1: from then on the manager may stop the service at any
	// time.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, append(stopSignals, reloadSignals...)...)

	listeners, err := listen(addr, name)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from pid %d\n", os.Getpid())
	})
	// serving ends when shutdown cancels it.
	serving, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		// One server per listener: graceful.Serve takes its server over.
		srv := &http.Server{
			Handler: mux,
			// Also bounds how long a silent client delays the shutdown.
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() { served <- graceful.Serve(serving, srv, l, 20*time.Second) }()
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	watchdog := make(chan error, 1)
	go func() { watchdog <- notify.WatchdogLoop(ctx) }()

	report(notify.Ready())
	report(notify.Status(fmt.Sprintf("serving on %s", listeners[0].Addr())))

	for {
		select {
		case sig := <-signals:
			if isReload(sig) {
				// Nothing to reload here but the protocol: a real server
				// rereads its configuration between these two calls.
				report(notify.Reloading())
				report(notify.Ready())
				continue
			}
			return shutdown(stopServing, served, len(listeners))
		case err := <-served:
			// Before shutdown, graceful.Serve returns only on failure.
			report(notify.Status("failed: " + err.Error()))
			return err
		case err := <-watchdog:
			if err != nil {
				return fmt.Errorf("watchdog: %w", err)
			}
			// Not enabled (no WatchdogSec=): nothing more to do.
			watchdog = nil
		}
	}
}

// listen returns the listeners passed to the process under name, or else a
// new one on addr, which it stores under name for the next start.
func listen(addr, name string) ([]net.Listener, error) {
	passed, err := activation.ListenersWithNames()
	if err != nil {
		return nil, err
	}
	for other, ls := range passed {
		if other != name {
			for _, l := range ls {
				log.Printf("closing listener %q on %s: not named %q", other, l.Addr(), name)
				l.Close()
			}
		}
	}
	if ls := passed[name]; len(ls) > 0 {
		// From notify-service.socket, which keeps it open across restarts,
		// or from the file descriptor store, which already holds it.
		log.Printf("serving on %d passed listener(s) named %q", len(ls), name)
		return ls, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The manager keeps a copy and passes it to the next start of the
	// service; this process still owns l and closes it on shutdown.
	if sent, err := notify.StoreListener(name, l); err != nil {
		log.Printf("keeping the listener in the file descriptor store: %v", err)
	} else if sent {
		log.Printf("stored the listener on %s as %q", l.Addr(), name)
	}
	return []net.Listener{l}, nil
}

// shutdown tells the manager that the service stops, then stops serving:
// graceful.Serve closes each listener, answers every connection it
// accepted, hands the idle keep-alive ones to the next start when the store
// is on ($FDSTORE), and returns. Closing the listeners closes this process's copies
// only: the manager keeps the socket (in the file descriptor store, or for
// notify-service.socket), and connections not accepted yet wait in its
// backlog for the next start. Run by hand, nothing else holds the socket,
// and they are refused.
func shutdown(stopServing context.CancelFunc, served <-chan error, n int) error {
	report(notify.Stopping())
	report(notify.Status("finishing requests in progress"))
	stopServing()
	errs := make([]error, n)
	for i := range errs {
		errs[i] = <-served
	}
	return errors.Join(errs...)
}

// report logs a failed notification; a service keeps running without them.
func report(_ bool, err error) {
	if err != nil {
		log.Print(err)
	}
}

func isReload(sig os.Signal) bool {
	for _, r := range reloadSignals {
		if sig == r {
			return true
		}
	}
	return false
}
