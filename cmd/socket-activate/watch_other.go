//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

// newWatcher watches roots by polling: this system has neither inotify
// nor kqueue.
func newWatcher(roots []watchRoot, skip skipFunc) (watcher, error) {
	return newPollWatcher(roots, skip)
}
