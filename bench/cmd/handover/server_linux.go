//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/graceful"
	"github.com/go-activation/activation/notify"
)

const (
	// readHeaderTimeout bounds the wait for a request's header. Without a
	// store, a connection a client opened and sent nothing on yet (an
	// http.Transport dials ahead of need) holds the stop until it passes.
	readHeaderTimeout = 2 * time.Second
	// stopTimeout bounds the stop: below the 10s after which
	// socket-activate sends SIGKILL.
	stopTimeout = 8 * time.Second
)

// serve is the measured server: it echoes POST bodies after its pid, prints
// how many connections it took back and, once stopped, its fds before and
// after Serve.
func serve() error {
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
	before, err := fdList()
	if err != nil {
		return err
	}
	pid := os.Getpid()
	prefix := []byte(fmt.Sprintf("%d ", pid))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Write(append(prefix[:len(prefix):len(prefix)], body...))
		}),
		ReadHeaderTimeout: readHeaderTimeout,
	}
	served := make(chan error, 1)
	go func() { served <- graceful.Serve(ctx, srv, l, stopTimeout) }()
	fmt.Fprintf(os.Stderr, "server: pid %d took back %d connections\n", pid, back)
	if sent, err := notify.Ready(); err != nil || !sent {
		return errors.Join(err, errors.New("no NOTIFY_SOCKET: run under socket-activate --notify"))
	}
	err = <-served
	after, cerr := fdList()
	fmt.Fprintf(os.Stderr, "server: pid %d stopped with %d fds open, %d before serving\n", pid, len(after), len(before))
	if len(after) != len(before)-1-back {
		// Say which, for the report's fd leak lines.
		fmt.Fprintf(os.Stderr, "server: pid %d fds before serving: %s\n", pid, strings.Join(before, " "))
		fmt.Fprintf(os.Stderr, "server: pid %d fds after serving: %s\n", pid, strings.Join(after, " "))
	}
	return errors.Join(err, cerr)
}

// fdList describes the process's open fds: number=target.
func fdList() ([]string, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	list := make([]string, 0, len(entries))
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			target = "?" // the directory's own fd, closed by now
		}
		list = append(list, e.Name()+"="+target)
	}
	return list, nil
}

// fdCount counts the fds of a process: "self" or a pid.
func fdCount(pid string) (int, error) {
	entries, err := os.ReadDir("/proc/" + pid + "/fd")
	return len(entries), err
}
