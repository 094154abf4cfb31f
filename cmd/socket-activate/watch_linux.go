package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotifyEvents are the events an inotify watcher asks for on each
// directory: a file written, made, removed or renamed, a directory made or
// removed.
const inotifyEvents = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_ONLYDIR

// newWatcher watches roots with inotify(7).
func newWatcher(roots []watchRoot, skip skipFunc) (watcher, error) {
	return newInotifyWatcher(roots, skip)
}

// inotifyWatcher watches every directory under its roots with one inotify
// instance, and the directory of each file root for that file.
type inotifyWatcher struct {
	file  *os.File // the inotify fd, read through the runtime's poller
	roots []watchRoot
	skip  skipFunc
	set   *changeSet
	done  chan struct{} // closed when read returns

	mu   sync.Mutex
	dirs map[int]string // by watch descriptor
}

func newInotifyWatcher(roots []watchRoot, skip skipFunc) (*inotifyWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("--watch: %w", os.NewSyscallError("inotify_init1", err))
	}
	w := &inotifyWatcher{file: os.NewFile(uintptr(fd), "inotify"), roots: roots, skip: skip,
		set: newChangeSet(), done: make(chan struct{}), dirs: map[int]string{}}
	for _, r := range roots {
		dir := r.path
		if !r.dir {
			dir = filepath.Dir(r.path)
		}
		if err := w.addTree(dir, r.dir, false); err != nil {
			w.file.Close()
			return nil, err
		}
	}
	go w.read()
	return w, nil
}

// addTree watches dir and, if recursive, every directory under it,
// reporting the files it finds there if report is set (a directory just
// made may hold files made before it was watched).
func (w *inotifyWatcher) addTree(dir string, recursive, report bool) error {
	add := func(path string) error {
		rc, err := w.file.SyscallConn()
		if err != nil {
			return err
		}
		var wd int
		if cerr := rc.Control(func(fd uintptr) { wd, err = unix.InotifyAddWatch(int(fd), path, inotifyEvents) }); cerr != nil {
			return cerr
		}
		switch {
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
			return nil // gone meanwhile
		case errors.Is(err, unix.ENOSPC):
			return fmt.Errorf("--watch: too many directories for inotify (see /proc/sys/fs/inotify/max_user_watches): %w", err)
		case err != nil:
			return fmt.Errorf("--watch %s: %w", path, os.NewSyscallError("inotify_add_watch", err))
		}
		w.mu.Lock()
		w.dirs[wd] = path
		w.mu.Unlock()
		return nil
	}
	if !recursive {
		return add(dir)
	}
	return walkRoots([]watchRoot{{path: dir, dir: true}}, w.skip, func(path string, isDir bool) error {
		if isDir {
			return add(path)
		}
		if report {
			w.set.add(path)
		}
		return nil
	})
}

// wanted reports whether a change to path is one the watcher reports: a
// path under a directory root, or a file root.
func (w *inotifyWatcher) wanted(path string) bool {
	for _, r := range w.roots {
		if r.path == path || (r.dir && under(path, r.path)) {
			return !w.skip(path)
		}
	}
	return false
}

// read reads events until the watcher is closed.
func (w *inotifyWatcher) read() {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			w.event(ev, string(trimNUL(nameBytes)))
		}
	}
}

// event handles one inotify event about name in the directory ev.Wd names.
func (w *inotifyWatcher) event(ev *unix.InotifyEvent, name string) {
	if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
		w.set.add("(more changes than inotify could queue)")
		return
	}
	w.mu.Lock()
	dir, ok := w.dirs[int(ev.Wd)]
	if ev.Mask&unix.IN_IGNORED != 0 {
		delete(w.dirs, int(ev.Wd))
	}
	w.mu.Unlock()
	if !ok || name == "" {
		return
	}
	path := filepath.Join(dir, name)
	if !w.wanted(path) {
		return
	}
	if ev.Mask&unix.IN_ISDIR != 0 && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		// A new directory: watch it, and what it may hold already.
		if err := w.addTree(path, true, true); err != nil {
			w.set.add(path + " (" + err.Error() + ")")
			return
		}
	}
	w.set.add(path)
}

func (w *inotifyWatcher) Changes() <-chan changes { return w.set.ready }

func (w *inotifyWatcher) Close() error {
	err := w.file.Close()
	<-w.done
	return err
}

// trimNUL cuts b at its first NUL: inotify pads names with them.
func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
