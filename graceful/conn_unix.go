//go:build unix

package graceful

import (
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// handoverSupported: unix systems pass sockets to the manager.
const handoverSupported = true

// Read reads from the socket with a system call made under c.mu, after
// checking that c is not being handed over, so that no byte is taken from
// the socket once the stop has chosen to hand it over. While the stop runs,
// a Read that may be handed over (see mayHandOverLocked) reads nothing: it
// waits for the stop to hand the connection over, and then fails.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n       int
		errno   error
		started bool
		mayPark bool
		gone    bool // handed over or dropped: nothing may be read
	)
	err := c.raw.Read(func(fd uintptr) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !started {
			started = true
			mayPark = c.mayHandOverLocked(p)
		}
		switch c.stage {
		case handing:
			return false // the stop wakes this Read once the store has the socket
		case handedOver, dropped:
			gone = true
			return true
		}
		if mayPark && !c.kept && c.h.stopping.Load() {
			c.parked = true
			c.h.notify()
			return false
		}
		for {
			n, errno = unix.Read(int(fd), p)
			if errno != unix.EINTR {
				break
			}
		}
		if errno == unix.EAGAIN {
			c.parked = mayPark
			return false
		}
		c.parked = false
		if errno != nil {
			n = 0
		} else if n > 0 {
			c.gotLocked(p[:n])
		}
		return true
	})
	c.mu.Lock()
	c.parked = false
	st, done := c.stage, c.done
	c.mu.Unlock()
	if st == handing {
		<-done
		c.mu.Lock()
		st = c.stage
		c.mu.Unlock()
	}
	switch {
	case gone || st == handedOver:
		return 0, c.opError("read", errHandedOver)
	case st == dropped:
		return 0, c.opError("read", net.ErrClosed)
	case err != nil:
		return 0, c.opError("read", err)
	case errno != nil:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// awaitRequest waits, without reading, until c has a byte to read, is at
// its end or has failed (ready), or until its read deadline passes, it is
// closed, or c is no longer live or waiting (err). While the stop runs it
// only waits, for the stop to take c.
func (c *conn) awaitRequest() (ready bool, err error) {
	var b [1]byte
	err = c.raw.Read(func(fd uintptr) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stage != live || c.served {
			return true
		}
		if c.h.stopping.Load() {
			return false
		}
		var errno error
		for {
			_, _, errno = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
			if errno != unix.EINTR {
				break
			}
		}
		if errno == unix.EAGAIN {
			return false
		}
		ready = true
		return true
	})
	return ready, err
}
