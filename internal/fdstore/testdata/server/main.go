//go:build unix

// Server is the program the fdstore tests run under socket-activate
// --notify --restart: an HTTP server that keeps one long-lived connection to
// a peer open across restarts by leaving it in the activator's fd store.
//
// At each start it takes its listening socket named web, takes back the
// connection stored as conn or, on the first start, dials the peer at $PEER,
// stores the connection (the activator keeps a file once, so storing again
// what came back adds nothing), prints
//
//	server: pid PID serving on ADDR, inherited NAMES
//
// on standard error (NAMES: the inherited fds' names joined with ":", or
// "nothing", leaving out the clients' connections the run before handed
// over to this one through graceful.Serve) and sends READY=1. It answers
//
//	GET /               {"pid":PID,"inherited":"NAMES"}
//	GET /peer?msg=TEXT  {"pid":PID,"echo":ANSWER}, ANSWER being the line the
//	                    peer sent back for TEXT on the stored connection
//
// The listening socket comes from one of two places:
//
//   - By default, from a socket unit: the activator's -l socket named web,
//     which the activator passes at every start anyway and keeps apart from
//     the store, as systemd keeps a socket unit's sockets. The server does
//     not store it: a stored copy would come back as a second fd named web.
//   - With OWN_LISTENER=1, from the server itself, as a Type=notify service
//     with FileDescriptorStoreMax= and no socket unit does it: on the first
//     start (no fd named web inherited) it listens on 127.0.0.1:0 and stores
//     the listener as web before the connection, so that later starts
//     inherit web:conn; a later start takes the stored web back and does
//     not store it again, since it stays in the store.
//
// On SIGTERM it stops accepting, answers every connection it accepted,
// hands the idle ones to the next run through the activator's store (which
// socket-activate --notify offers: FDSTORE is set), and exits 0. It closes its own copies of the listener and of the stored
// connection; the activator holds the sockets, so the peer sees no end of
// stream, and the listening socket stays open.
//
// graceful.Serve does the stop: http.Server.Shutdown alone would lose
// requests at each restart (see the graceful package). Closing the
// listener closes only this process's copy of the socket, whether the
// activator holds it as an -l socket or as a stored one: connections not
// yet accepted wait in its listen backlog for the next run.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
	"github.com/go-activation/activation/notify"
)

// timeout bounds each exchange with the peer and the graceful shutdown.
const timeout = 5 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	infos, err := activation.Inherited()
	if err != nil {
		return err
	}
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	l, err := listen(names)
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := peerConn(infos)
	if err != nil {
		return err
	}
	// Closes this process's copy only: the activator holds the socket.
	defer c.Close()
	if _, err := notify.StoreConn("conn", c); err != nil {
		return err
	}

	p := &peer{conn: c, r: bufio.NewReader(c)}
	pid := os.Getpid()
	// The clients' connections the run before handed over, which
	// graceful.Serve takes back, come and go with the load: the story
	// leaves them out.
	handedOver := graceful.ConnName(l.Addr())
	names = slices.DeleteFunc(names, func(name string) bool { return name == handedOver })
	inherited := strings.Join(names, ":")
	said := inherited
	if len(names) == 0 {
		said = "nothing"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		answer(w, map[string]any{"pid": pid, "inherited": inherited})
	})
	mux.HandleFunc("GET /peer", func(w http.ResponseWriter, r *http.Request) {
		echo, err := p.exchange(r.URL.Query().Get("msg"))
		if err != nil {
			http.Error(w, fmt.Sprintf("server: pid %d: %v", pid, err), http.StatusBadGateway)
			return
		}
		answer(w, map[string]any{"pid": pid, "echo": echo})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: timeout}
	served := make(chan error, 1)
	go func() { served <- graceful.Serve(ctx, srv, l, timeout) }()

	fmt.Fprintf(os.Stderr, "server: pid %d serving on %s, inherited %s\n", pid, l.Addr(), said)
	sent, err := notify.Ready()
	if err != nil {
		return err
	}
	if !sent {
		return errors.New("NOTIFY_SOCKET is not set: run under socket-activate --notify")
	}
	return <-served
}

// listen returns the listening socket: the inherited one named web, or with
// OWN_LISTENER=1 and none inherited, a new one on 127.0.0.1:0, stored as web.
// The caller owns it; closing it leaves the activator's copy open.
func listen(inherited []string) (net.Listener, error) {
	if os.Getenv("OWN_LISTENER") != "1" || slices.Contains(inherited, "web") {
		return activation.Listen("tcp", "sd-listen:web")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if _, err := notify.StoreListener("web", l); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// peerConn returns the connection to the peer: the one stored as conn by an
// earlier run, claimed from the inherited fds, or else a new one to $PEER.
// The caller owns it.
func peerConn(infos []activation.Info) (net.Conn, error) {
	var stored *activation.Info
	for i, in := range infos {
		if in.Name == "conn" {
			stored = &infos[i]
		}
	}
	if stored == nil {
		return net.DialTimeout("tcp", os.Getenv("PEER"), timeout)
	}
	// The connections named conn only: graceful.Serve takes back the
	// clients' connections stored under a name of its own.
	cs, err := activation.ConnsNamed("conn")
	if err != nil {
		return nil, err
	}
	var c net.Conn
	for _, x := range cs {
		if c == nil && x.RemoteAddr().String() == stored.RemoteAddr.String() {
			c = x
			continue
		}
		x.Close()
	}
	if c == nil {
		return nil, fmt.Errorf("no inherited connection has conn's peer %v", stored.RemoteAddr)
	}
	return c, nil
}

// peer is the long-lived connection, one exchange at a time.
type peer struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// exchange sends msg as a line and returns the line the peer answers.
func (p *peer) exchange(msg string) (string, error) {
	if strings.ContainsAny(msg, "\r\n") {
		return "", fmt.Errorf("message %q holds a line break", msg)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(p.conn, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := p.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// answer writes v as JSON.
func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
