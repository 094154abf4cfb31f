//go:build unix

// Keepalive is the program the fd store's hand-over test runs under
// socket-activate --notify --restart, which sets FDSTORE: an HTTP server on
// the listening socket named web, stopped by graceful.Serve, which hands
// its idle keep-alive connections to the next run through the activator's
// store and takes back the ones the run before handed over.
//
// It answers POST /echo with its pid, a space and the request's body. At
// start it prints, on standard error,
//
//	keepalive: pid PID took back N connections
//
// N being the inherited fds named for its listener (graceful.ConnName),
// and sends READY=1; on SIGTERM it stops, prints
//
//	keepalive: pid PID stopped with A fds open, B before serving
//
// (from /proc/self/fd) and exits 0, or 1 if Serve failed. Serve closes the
// listener and the connections it took back, so A is B-1-N when nothing
// leaked.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
	"github.com/go-activation/activation/notify"
)

// timeout bounds reading a request's header and the stop.
const timeout = 10 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "keepalive: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	l, err := activation.Listen("tcp", "sd-listen:web")
	if err != nil {
		return err
	}
	infos, err := activation.Inherited()
	if err != nil {
		return err
	}
	name, back := graceful.ConnName(l.Addr()), 0
	for _, in := range infos {
		if in.Name == name {
			back++
		}
	}
	before, err := fdCount()
	if err != nil {
		return err
	}

	pid := os.Getpid()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s", pid, body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: timeout}
	served := make(chan error, 1)
	go func() { served <- graceful.Serve(ctx, srv, l, timeout) }()

	fmt.Fprintf(os.Stderr, "keepalive: pid %d took back %d connections\n", pid, back)
	sent, err := notify.Ready()
	if err != nil {
		return err
	}
	if !sent {
		return errors.New("NOTIFY_SOCKET is not set: run under socket-activate --notify")
	}
	err = <-served
	after, cerr := fdCount()
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	fmt.Fprintf(os.Stderr, "keepalive: pid %d stopped with %d fds open, %d before serving\n", pid, after, before)
	return err
}

// fdCount returns the number of fds the process has open.
func fdCount() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	return len(entries), err
}
