//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// pollInterval is how often a polling watcher looks at the files.
const pollInterval = 500 * time.Millisecond

// pollWatcher looks at every file under its roots every pollInterval, and
// reports those whose size, time, mode or inode changed, and those that
// came or went.
type pollWatcher struct {
	roots []watchRoot
	skip  skipFunc
	set   *changeSet
	stop  chan struct{}
	done  chan struct{}
}

// fileState is what a pollWatcher compares.
type fileState struct {
	size, ino uint64
	mtime     time.Time
	mode      fs.FileMode
}

func newPollWatcher(roots []watchRoot, skip skipFunc) (*pollWatcher, error) {
	w := &pollWatcher{roots: roots, skip: skip, set: newChangeSet(), stop: make(chan struct{}), done: make(chan struct{})}
	first, err := w.scan()
	if err != nil {
		return nil, err
	}
	go w.poll(first)
	return w, nil
}

// scan returns the state of every file and directory under the roots.
func (w *pollWatcher) scan() (map[string]fileState, error) {
	files := map[string]fileState{}
	err := walkRoots(w.roots, w.skip, func(path string, dir bool) error {
		fi, err := os.Lstat(path)
		if err != nil {
			return nil // gone meanwhile
		}
		if dir {
			// A directory's time changes with its entries, ignored ones
			// too: its files say what changed.
			files[path] = fileState{mode: fi.Mode()}
			return nil
		}
		files[path] = fileState{size: uint64(fi.Size()), ino: inode(fi), mtime: fi.ModTime(), mode: fi.Mode()}
		return nil
	})
	return files, err
}

func (w *pollWatcher) poll(last map[string]fileState) {
	defer close(w.done)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		now, err := w.scan()
		if err != nil {
			continue // a root gone for a moment, say
		}
		for path, st := range now {
			if old, ok := last[path]; !ok || old != st {
				w.set.add(path)
			}
		}
		for path := range last {
			if _, ok := now[path]; !ok {
				w.set.add(path)
			}
		}
		last = now
	}
}

func (w *pollWatcher) Changes() <-chan changes { return w.set.ready }

func (w *pollWatcher) Close() error {
	close(w.stop)
	<-w.done
	return nil
}

// inode returns the inode number of the file fi describes, or 0.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
