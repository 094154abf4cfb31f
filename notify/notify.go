package notify

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxFiles is the most files one message can carry: the kernel's limit on
// file descriptors in one SCM_RIGHTS message (SCM_MAX_FD).
const MaxFiles = 253

// MaxMessageSize is the longest message, in bytes, that the service manager
// reads: systemd receives notifications into a buffer of PIPE_BUF bytes and
// drops longer datagrams.
const MaxMessageSize = 4096

// Send sends state, newline-separated VARIABLE=VALUE assignments, to the
// service manager as one message, byte for byte. See sd_notify(3) for the
// variables systemd reads.
//
// When NOTIFY_SOCKET is unset the process is not supervised: Send sends
// nothing and returns false and a nil error. Otherwise it returns true once the
// message is handed to the kernel, which says nothing of whether the manager
// accepted it (see [Barrier]). NOTIFY_SOCKET is left in the environment, so
// child processes inherit it.
//
// A message longer than [MaxMessageSize] or holding a NUL byte is refused with
// an error before anything is sent, as is a NOTIFY_SOCKET value that is not an
// absolute path, an abstract socket name (@…, Linux only), or vsock:CID:PORT
// (also vsock-stream:, vsock-dgram:, vsock-seqpacket:; Linux only). On
// platforms without Unix domain sockets every call fails with an error
// wrapping [errors.ErrUnsupported] when NOTIFY_SOCKET is set.
func Send(state string) (sent bool, err error) {
	return send(state, nil)
}

// SendWithFiles is like [Send] and also passes files to the manager (as
// SCM_RIGHTS), in the same message. The manager receives its own copies of the
// file descriptors: the caller keeps ownership of files and may close them as
// soon as SendWithFiles returns. At most [MaxFiles] files fit in one message;
// more, or a nil or closed file, is an error and nothing is sent (on Unix
// also when NOTIFY_SOCKET is unset).
//
// The manager acts on the files only for the states that want them
// (FDSTORE=1, BARRIER=1); see [Store] and [Barrier].
func SendWithFiles(state string, files ...*os.File) (sent bool, err error) {
	return send(state, files)
}

// Ready tells the manager that start-up is finished (READY=1). With
// Type=notify the unit stays "activating" until it does.
func Ready() (sent bool, err error) {
	return send("READY=1", nil)
}

// Reloading tells the manager that the service is reloading its
// configuration (RELOADING=1), with the current CLOCK_MONOTONIC time in
// microseconds (MONOTONIC_USEC=), which Type=notify-reload requires. Call
// [Ready] when the reload is done.
func Reloading() (sent bool, err error) {
	if _, ok, err := lookupAddress(); !ok || err != nil {
		return false, err
	}
	usec, err := monotonicMicroseconds()
	if err != nil {
		return false, err
	}
	return send("RELOADING=1\nMONOTONIC_USEC="+strconv.FormatUint(usec, 10), nil)
}

// Stopping tells the manager that the service is shutting down (STOPPING=1).
func Stopping() (sent bool, err error) {
	return send("STOPPING=1", nil)
}

// Status sets the one-line status text shown by systemctl status
// (STATUS=text). A text with a newline is refused with an error, since the
// manager would read the rest as further assignments.
func Status(text string) (sent bool, err error) {
	if strings.ContainsAny(text, "\n") {
		return false, fmt.Errorf("notify: status %q holds a newline", text)
	}
	return send("STATUS="+text, nil)
}

// Errno tells the manager why the service failed, as an errno number
// (ERRNO=n). A negative number is refused with an error.
func Errno(errno int) (sent bool, err error) {
	if errno < 0 {
		return false, fmt.Errorf("notify: errno %d is negative", errno)
	}
	return send("ERRNO="+strconv.Itoa(errno), nil)
}

// ExtendTimeout asks the manager for d more time in the current start-up,
// runtime or shut-down phase (EXTEND_TIMEOUT_USEC=, in microseconds, rounded
// down). Repeat it before d runs out to keep extending. A negative d is
// refused with an error.
func ExtendTimeout(d time.Duration) (sent bool, err error) {
	if d < 0 {
		return false, fmt.Errorf("notify: timeout extension %v is negative", d)
	}
	return send("EXTEND_TIMEOUT_USEC="+strconv.FormatInt(d.Microseconds(), 10), nil)
}

// Watchdog keeps the service's watchdog from firing (WATCHDOG=1). See
// [WatchdogEnabled] for the interval and [WatchdogLoop] for a loop that calls
// it.
func Watchdog() (sent bool, err error) {
	return send("WATCHDOG=1", nil)
}

// WatchdogTrigger tells the manager that the service is unhealthy, as if the
// watchdog had fired (WATCHDOG=trigger).
func WatchdogTrigger() (sent bool, err error) {
	return send("WATCHDOG=trigger", nil)
}

// MainPID tells the manager which process is the service's main process
// (MAINPID=pid). The manager accepts it only from processes that
// NotifyAccess= allows. A pid that is not positive or does not fit in 32 bits
// is refused with an error.
func MainPID(pid int) (sent bool, err error) {
	if pid <= 0 || pid > 1<<31-1 {
		return false, fmt.Errorf("notify: main pid %d is out of range", pid)
	}
	return send("MAINPID="+strconv.Itoa(pid), nil)
}

// send checks the message, then sends it when NOTIFY_SOCKET is set.
func send(state string, files []*os.File) (bool, error) {
	if err := checkMessage(state, files); err != nil {
		return false, err
	}
	a, ok, err := lookupAddress()
	if !ok || err != nil {
		return false, err
	}
	if err := transmit(a, []byte(state), files); err != nil {
		return false, err
	}
	return true, nil
}

// checkMessage refuses what systemd would refuse or never receive.
func checkMessage(state string, files []*os.File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("notify: %d files in one message, at most %d fit", len(files), MaxFiles)
	}
	for i, f := range files {
		if f == nil {
			return fmt.Errorf("notify: file %d of %d is nil", i+1, len(files))
		}
		if closed(f) {
			return fmt.Errorf("notify: file %d of %d (%q): %w", i+1, len(files), f.Name(), os.ErrClosed)
		}
	}
	if len(state) > MaxMessageSize {
		return fmt.Errorf("notify: message of %d bytes, at most %d are read", len(state), MaxMessageSize)
	}
	if i := strings.IndexByte(state, 0); i >= 0 {
		return fmt.Errorf("notify: message holds a NUL byte at offset %d", i)
	}
	return nil
}

// lookupAddress reads NOTIFY_SOCKET. ok is false when it is unset.
func lookupAddress() (a address, ok bool, err error) {
	value, ok := os.LookupEnv("NOTIFY_SOCKET")
	if !ok {
		return address{}, false, nil
	}
	a, err = parseAddress(value)
	return a, true, err
}
