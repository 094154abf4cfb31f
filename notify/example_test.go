package notify_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/notify"
)

// A Type=notify service tells the manager when it is ready and what it is
// doing, and keeps the watchdog fed while it runs.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(l)

	go func() {
		if err := notify.WatchdogLoop(ctx); err != nil {
			log.Printf("watchdog: %v", err)
		}
	}()
	if _, err := notify.Ready(); err != nil {
		log.Printf("notify: %v", err)
	}
	if _, err := notify.Status("serving on " + l.Addr().String()); err != nil {
		log.Printf("notify: %v", err)
	}

	// … until asked to stop: say so, then finish the requests in progress
	// and exit. http.Server.Shutdown alone would drop (with Go 1.26) a
	// request it reads just after it began: examples/notify-service shows
	// how to lose none.
	notify.Stopping()
}

// Outside a supervised service, NOTIFY_SOCKET is unset and every call reports
// that it sent nothing, without an error.
func ExampleReady_notSupervised() {
	if value, ok := os.LookupEnv("NOTIFY_SOCKET"); ok {
		os.Unsetenv("NOTIFY_SOCKET")
		defer os.Setenv("NOTIFY_SOCKET", value)
	}
	sent, err := notify.Ready()
	fmt.Println(sent, err)
	// Output: false <nil>
}

// A service keeps its listener in the manager's file descriptor store, so
// that the next start of the service gets the same socket back, named "web",
// and no connection is refused in between. The unit needs
// FileDescriptorStoreMax=1 or more.
func ExampleStoreListener() {
	// The stored listener comes back through LISTEN_FDS, named "web".
	named, err := activation.ListenersWithNames()
	if err != nil {
		log.Fatal(err)
	}
	var l net.Listener
	if inherited := named["web"]; len(inherited) > 0 {
		l = inherited[0] // already in the store
	} else {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			log.Fatal(err)
		}
		// The manager keeps a copy; this process still owns l.
		if _, err := notify.StoreListener("web", l); err != nil {
			log.Printf("storing the listener: %v", err)
		}
	}
	defer l.Close()
	http.Serve(l, http.NotFoundHandler())
}

// Store keeps any file, for instance a memfd holding state to take over after
// a restart, and Remove drops it again.
func ExampleStore() {
	state, err := os.CreateTemp("", "state")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(state.Name())
	defer state.Close()

	sent, err := notify.Store("state", state)
	if err != nil {
		log.Fatal(err)
	}
	if !sent {
		fmt.Println("not supervised: nothing stored")
	}
	notify.Remove("state")
}

// Barrier waits until the manager has processed the messages sent before
// it, for instance to be sure that STOPPING=1 arrived before exiting.
func ExampleBarrier() {
	notify.Stopping()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := notify.Barrier(ctx); err != nil {
		log.Printf("notify: %v", err)
	}
}

// WatchdogEnabled tells whether the manager expects pings, and how often.
func ExampleWatchdogEnabled() {
	interval, err := notify.WatchdogEnabled()
	switch {
	case err != nil:
		log.Fatal(err)
	case interval == 0:
		fmt.Println("no watchdog")
	default:
		fmt.Println("ping at least every", interval)
	}
}
