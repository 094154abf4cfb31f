//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// maxKqueueFiles bounds the files and directories a kqueue watcher opens:
// kqueue needs an fd for each.
const maxKqueueFiles = 10000

// kqueueNotes are the vnode events a kqueue watcher asks for.
const kqueueNotes = unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB | unix.NOTE_DELETE | unix.NOTE_RENAME

// newWatcher watches roots with kqueue(2).
func newWatcher(roots []watchRoot, skip skipFunc) (watcher, error) {
	return newKqueueWatcher(roots, skip)
}

// kqueueWatcher holds an fd open on every file and directory under its
// roots and watches them with kqueue. A file's event reports the file; a
// directory's makes it look for files that came, went or were replaced.
type kqueueWatcher struct {
	kq    int
	wake  [2]int // a byte written to wake[1] stops the loop
	roots []watchRoot
	skip  skipFunc
	set   *changeSet
	done  chan struct{}

	// Used by newKqueueWatcher, then by loop alone.
	byPath map[string]*watched
	byFD   map[int]*watched
}

// watched is a file or directory a kqueueWatcher holds open.
type watched struct {
	path string
	fd   int
	dir  bool
	ino  uint64
}

func newKqueueWatcher(roots []watchRoot, skip skipFunc) (*kqueueWatcher, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("--watch: %w", os.NewSyscallError("kqueue", err))
	}
	unix.CloseOnExec(kq)
	w := &kqueueWatcher{kq: kq, roots: roots, skip: skip, set: newChangeSet(), done: make(chan struct{}),
		byPath: map[string]*watched{}, byFD: map[int]*watched{}}
	if err := unix.Pipe(w.wake[:]); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("--watch: %w", os.NewSyscallError("pipe", err))
	}
	unix.CloseOnExec(w.wake[0])
	unix.CloseOnExec(w.wake[1])
	if err := w.register(w.wake[0], unix.EVFILT_READ, 0); err != nil {
		w.closeAll()
		return nil, err
	}
	if err := w.scan(true); err != nil {
		w.closeAll()
		return nil, err
	}
	go w.loop()
	return w, nil
}

// register asks kq for events of filter on fd.
func (w *kqueueWatcher) register(fd, filter int, fflags uint32) error {
	var ev unix.Kevent_t
	unix.SetKevent(&ev, fd, filter, unix.EV_ADD|unix.EV_CLEAR|unix.EV_ENABLE)
	ev.Fflags = fflags
	if _, err := unix.Kevent(w.kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		return fmt.Errorf("--watch: %w", os.NewSyscallError("kevent", err))
	}
	return nil
}

// scan opens what came under the roots, or was replaced, and closes what
// went, reporting each as a change unless first.
func (w *kqueueWatcher) scan(first bool) error {
	seen := map[string]bool{}
	err := walkRoots(w.roots, w.skip, func(path string, dir bool) error {
		seen[path] = true
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil // gone meanwhile
		}
		old := w.byPath[path]
		if old != nil && old.ino == uint64(st.Ino) {
			return nil
		}
		if old != nil {
			w.forget(old)
		}
		if len(w.byPath) >= maxKqueueFiles {
			return fmt.Errorf("--watch: more than %d files and directories to watch; watch fewer", maxKqueueFiles)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|openEventsOnly, 0)
		if err != nil {
			return nil // gone meanwhile, or unreadable
		}
		ent := &watched{path: path, fd: fd, dir: dir, ino: uint64(st.Ino)}
		if err := w.register(fd, unix.EVFILT_VNODE, kqueueNotes); err != nil {
			unix.Close(fd)
			return err
		}
		w.byPath[path], w.byFD[fd] = ent, ent
		if !first {
			w.set.add(path)
		}
		return nil
	})
	for path, ent := range w.byPath {
		if !seen[path] {
			w.forget(ent)
			w.set.add(path)
		}
	}
	return err
}

// forget closes ent's fd, which also removes its events from kq.
func (w *kqueueWatcher) forget(ent *watched) {
	unix.Close(ent.fd)
	delete(w.byPath, ent.path)
	delete(w.byFD, ent.fd)
}

func (w *kqueueWatcher) loop() {
	defer close(w.done)
	defer w.closeAll()
	events := make([]unix.Kevent_t, 64)
	for {
		n, err := unix.Kevent(w.kq, nil, events, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		rescan := false
		for _, ev := range events[:n] {
			fd := int(ev.Ident)
			if fd == w.wake[0] {
				return
			}
			ent := w.byFD[fd]
			if ent == nil {
				continue
			}
			if !ent.dir {
				w.set.add(ent.path)
			}
			// A directory changed: an entry came, went or was renamed.
			// A file was removed or renamed: another may take its name.
			if ent.dir || ev.Fflags&(unix.NOTE_DELETE|unix.NOTE_RENAME) != 0 {
				rescan = true
			}
		}
		if rescan {
			if err := w.scan(false); err != nil {
				w.set.add("(" + err.Error() + ")")
			}
		}
	}
}

// closeAll closes every fd the watcher holds.
func (w *kqueueWatcher) closeAll() {
	for _, ent := range w.byPath {
		unix.Close(ent.fd)
	}
	w.byPath, w.byFD = nil, nil
	unix.Close(w.wake[0])
	unix.Close(w.kq)
}

func (w *kqueueWatcher) Changes() <-chan changes { return w.set.ready }

func (w *kqueueWatcher) Close() error {
	unix.Write(w.wake[1], []byte{0})
	<-w.done
	unix.Close(w.wake[1])
	return nil
}
