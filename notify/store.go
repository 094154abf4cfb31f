package notify

import (
	"fmt"
	"net"
	"os"

	"github.com/go-activation/activation/internal/fdname"
	"github.com/go-activation/activation/internal/sdnum"
	"github.com/go-activation/activation/internal/storedlisteners"
)

// StoreEnabled reports whether the manager offers a file descriptor store to
// this process: NOTIFY_SOCKET is set and $FDSTORE holds a number above 0
// (see [StoreMax]). It reads the environment only; nothing is sent.
//
// systemd sets $FDSTORE, to the unit's FileDescriptorStoreMax=, for a
// service that gets a NOTIFY_SOCKET and has FileDescriptorStoreMax= above 0,
// since version 254. Older systemd keeps stored files as well but does not
// say so: a unit for it sets the variable itself, to the same number,
//
//	FileDescriptorStoreMax=64
//	Environment=FDSTORE=64
//
// and an activator that offers a store sets it the same way.
func StoreEnabled() bool {
	return storeEnabled(os.LookupEnv)
}

// StoreMax returns $FDSTORE: the most files the manager keeps in the
// service's file descriptor store. It returns 0 when the variable is unset or
// is not a number from 1 to 2147483647, which means that the store is off
// or that the manager does not say.
//
// The store counts every file in it, whoever stored it and under whatever
// name; the manager closes, without telling the sender, files that do not
// fit.
func StoreMax() int {
	return storeMax(os.LookupEnv)
}

// storeEnabled is StoreEnabled for a given environment.
func storeEnabled(lookupEnv func(string) (string, bool)) bool {
	_, ok := lookupEnv("NOTIFY_SOCKET")
	return ok && storeMax(lookupEnv) > 0
}

// storeMax is StoreMax for a given environment.
func storeMax(lookupEnv func(string) (string, bool)) int {
	value, ok := lookupEnv("FDSTORE")
	if !ok {
		return 0
	}
	n, err := sdnum.ParseUint(value, 31)
	if err != nil {
		return 0
	}
	return int(n)
}

// Store hands files to the manager's file descriptor store under name
// (FDSTORE=1, FDNAME=name), in one message. The manager keeps its own copies:
// the caller keeps ownership of files and may close them as soon as Store
// returns. On the service's next start the stored files come back through
// LISTEN_FDS, each named name in LISTEN_FDNAMES.
//
// The manager keeps the files only if the unit sets FileDescriptorStoreMax=
// high enough; otherwise it drops them, which the sender cannot see (a
// [Barrier] after Store only says the message was processed). While a stored
// file reports EPOLLHUP or EPOLLERR the manager drops it; see [StoreNoPoll].
//
// name must be valid for systemd: at most 255 bytes, only printable ASCII
// (bytes 32 to 126), no ':'. The empty name is valid. An invalid name, no
// files, more than [MaxFiles] files, or a nil or closed file is an error and
// nothing is sent. Like [Send], Store returns false and a nil error when NOTIFY_SOCKET is
// unset.
func Store(name string, files ...*os.File) (sent bool, err error) {
	return store(name, false, files)
}

// StoreNoPoll is like [Store] but asks the manager not to watch the files
// (FDPOLL=0): they stay in the store even after a hang-up or an error on
// them, until the service removes them with [Remove] or the store is
// discarded.
func StoreNoPoll(name string, files ...*os.File) (sent bool, err error) {
	return store(name, true, files)
}

func store(name string, noPoll bool, files []*os.File) (bool, error) {
	if err := validName(name); err != nil {
		return false, err
	}
	if len(files) == 0 {
		return false, fmt.Errorf("notify: store %q: no files", name)
	}
	state := "FDSTORE=1\nFDNAME=" + name
	if noPoll {
		state = "FDSTORE=1\nFDPOLL=0\nFDNAME=" + name
	}
	return send(state, files)
}

// Remove asks the manager to close and forget every stored file named name
// (FDSTOREREMOVE=1, FDNAME=name). An invalid name is an error and nothing is
// sent.
func Remove(name string) (sent bool, err error) {
	if err := validName(name); err != nil {
		return false, err
	}
	sent, err = send("FDSTOREREMOVE=1\nFDNAME="+name, nil)
	if sent {
		storedlisteners.Remove(name)
	}
	return sent, err
}

// filer is what net.TCPListener, net.UnixListener, net.TCPConn,
// net.UnixConn, net.UDPConn and net.IPConn have in common.
type filer interface {
	File() (*os.File, error)
}

// StoreListener stores l's socket under name, like [Store]. It gets a
// duplicate of the socket from l's File method, sends it and closes the
// duplicate. The caller keeps l, open and unchanged, and still owns it: the
// manager holds a copy of its own, so closing l afterwards does not close the
// stored socket. l must have a File method, as *net.TCPListener and
// *net.UnixListener do.
func StoreListener(name string, l net.Listener) (sent bool, err error) {
	sent, err = storeFiler(name, "listener", l)
	if sent {
		// The next start gets this socket back: package graceful hands
		// idle connections on it to that start.
		storedlisteners.Add(name, l.Addr())
	}
	return sent, err
}

// StoreConn stores c's socket under name, like [StoreListener]: the
// duplicate from c's File method is sent and closed, and the caller keeps c.
// c must have a File method, as *net.TCPConn, *net.UnixConn and *net.UDPConn
// do.
func StoreConn(name string, c net.Conn) (sent bool, err error) {
	return storeFiler(name, "connection", c)
}

// StoreFile stores f under name, like [Store] with one file. The caller keeps
// f and still owns it.
func StoreFile(name string, f *os.File) (sent bool, err error) {
	return store(name, false, []*os.File{f})
}

func storeFiler(name, what string, v any) (bool, error) {
	if err := validName(name); err != nil {
		return false, err
	}
	fv, ok := v.(filer)
	if !ok {
		return false, fmt.Errorf("notify: store %q: %s of type %T has no File method", name, what, v)
	}
	a, ok, err := lookupAddress()
	if !ok || err != nil {
		return false, err // not supervised: no need to duplicate anything
	}
	if err := checkSupported(a); err != nil {
		return false, err
	}
	f, err := fv.File()
	if err != nil {
		return false, fmt.Errorf("notify: store %q: duplicating the %s: %w", name, what, err)
	}
	defer f.Close()
	return store(name, false, []*os.File{f})
}

// validName reports whether systemd accepts name as a file descriptor
// name (fdname_is_valid).
func validName(name string) error {
	if err := fdname.Check(name); err != nil {
		return fmt.Errorf("notify: file descriptor name %q %w", name, err)
	}
	return nil
}
