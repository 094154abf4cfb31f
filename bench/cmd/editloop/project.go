package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeProject writes the server's module into dir: go.mod, which takes
// the activation module from repo, its go.sum, and main.go at version.
func writeProject(dir, repo string, version int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return err
	}
	mod := fmt.Sprintf(`module editloopapp

go 1.24.0

require github.com/go-activation/activation v0.0.0-00010101000000-000000000000

require golang.org/x/sys v0.40.0 // indirect

replace github.com/go-activation/activation => %s
`, repo)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		return err
	}
	return writeMain(dir, version)
}

// writeMain writes main.go with version, in place, as many editors save.
func writeMain(dir string, version int) error {
	return os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf(mainGo, version)), 0o644)
}

// mainGo is the server: it answers every request with its version, its pid
// and the length and SHA-256 of the request's body, on the socket
// socket-activate passes or on $ADDR, says it is ready under --notify,
// and on SIGTERM stops without losing a request: it closes its listener,
// answers what comes on the connections it has with "Connection: close",
// and closes a connection only once it has been quiet for half a second.
const mainGo = `package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/notify"
)

const version = "%d"

const idleGrace = 500 * time.Millisecond

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	l, err := activation.Listen("tcp", os.Getenv("ADDR"))
	if err != nil {
		log.Fatal(err)
	}
	var stopping atomic.Bool
	var mu sync.Mutex
	quiet := map[net.Conn]time.Time{} // zero while a request is handled
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stopping.Load() {
				w.Header().Set("Connection", "close")
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			sum := sha256.Sum256(body)
			fmt.Fprintf(w, "version %%s pid %%d len %%d sha256 %%x\n", version, os.Getpid(), len(body), sum[:8])
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch s {
			case http.StateNew, http.StateIdle:
				quiet[c] = time.Now()
			case http.StateActive:
				quiet[c] = time.Time{}
			default:
				delete(quiet, c)
			}
		},
	}
	go srv.Serve(l)
	notify.Ready()
	<-sigs
	stopping.Store(true)
	l.Close()
	began := time.Now()
	drained := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, since := range quiet {
			if since.IsZero() || time.Since(since) < idleGrace || time.Since(began) < idleGrace {
				return false
			}
		}
		return true
	}
	for time.Since(began) < 20*time.Second && !drained() {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Close()
}
`
