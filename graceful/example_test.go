package graceful_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
)

// A server for a socket unit (or run by hand with 127.0.0.1:8080 for
// sd-listen:web) that a restart costs no request: on SIGTERM, systemd's
// request to stop, it answers every connection it accepted and exits, while
// the connections it did not accept wait in the socket for the next start.
// With NotifyAccess=main and FileDescriptorStoreMax= in its service unit
// (and, before systemd 254, Environment=FDSTORE= with the same number),
// systemd offers it a file descriptor store, and it hands its idle
// keep-alive connections to the next start as well, instead of closing them.
func ExampleServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := activation.Listen("tcp", "sd-listen:web")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello")
		}),
		// Bounds how long a client that sends nothing delays the stop.
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Keep TimeoutStopSec= in the unit above the 20s given here.
	if err := graceful.Serve(ctx, srv, l, 20*time.Second); err != nil {
		log.Fatal(err)
	}
}
