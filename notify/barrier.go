package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Barrier waits until the manager has processed every message this process
// sent before it (BARRIER=1), as sd_notify_barrier(3) does: it sends the
// write end of a new pipe with the message, closes its own copy, and waits
// until the read end reports end of file, which happens when the manager
// closes the copy it received. The pipe is closed before Barrier returns.
//
// Barrier gives up when ctx is done: if ctx was done already when it was
// called, it sends nothing and returns false and an error wrapping
// ctx.Err(); if ctx is done while it waits, it returns true (the message
// was sent) and an error wrapping ctx.Err(). Pass a context with a
// timeout (a few seconds), since otherwise Barrier waits as long as the
// manager keeps the pipe open. When NOTIFY_SOCKET is unset it returns
// false and a nil error at once, creating no pipe.
func Barrier(ctx context.Context) (sent bool, err error) {
	a, ok, err := lookupAddress()
	if !ok || err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("notify: barrier: %w", err)
	}
	if err := checkSupported(a); err != nil {
		return false, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return false, fmt.Errorf("notify: barrier: %w", err)
	}
	defer r.Close()
	err = transmit(a, []byte("BARRIER=1"), []*os.File{w})
	w.Close()
	if err != nil {
		return false, err
	}
	return true, waitForEOF(ctx, r)
}

// waitForEOF reads r until end of file or until ctx is done.
func waitForEOF(ctx context.Context, r *os.File) error {
	if err := r.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("notify: barrier: the pipe cannot time out: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		_ = r.SetReadDeadline(time.Now()) // cannot fail: it succeeded above
	})
	defer stop()
	var buf [64]byte
	for {
		_, err := r.Read(buf[:])
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return fmt.Errorf("notify: barrier: waiting for the manager to close the pipe: %w", ctx.Err())
		case err != nil:
			return fmt.Errorf("notify: barrier: %w", err)
		}
		// The manager wrote to the pipe, which systemd never does; keep
		// waiting for it to close.
	}
}
