//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// maxChanges bounds the paths a batch of changes keeps to say what
// changed; more are counted.
const maxChanges = 8

// A watcher reports changes to files under the paths of --watch: with
// inotify on Linux, kqueue on macOS and the BSDs, and by polling
// elsewhere.
type watcher interface {
	// Changes delivers a batch of changes whenever there are some: the
	// paths changed since the batch before.
	Changes() <-chan changes
	// Close stops watching and releases what the watcher holds.
	Close() error
}

// changes is a batch of changed paths: the first maxChanges, and how many
// there were.
type changes struct {
	paths []string
	n     int
}

// String says what changed, for a line of output.
func (c changes) String() string {
	short := make([]string, len(c.paths))
	for i, p := range c.paths {
		short[i] = shortPath(p)
	}
	s := strings.Join(short, ", ")
	if c.n > len(c.paths) {
		s += fmt.Sprintf(" and %d more", c.n-len(c.paths))
	}
	return s
}

// changeSet collects changed paths for a watcher and hands them over in
// batches: the watcher's goroutine adds, the activator takes.
type changeSet struct {
	mu    sync.Mutex   // serializes add
	ready chan changes // holds at most one batch
}

func newChangeSet() *changeSet {
	return &changeSet{ready: make(chan changes, 1)}
}

// add records that path changed, in the batch not taken yet if there is
// one.
func (s *changeSet) add(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c changes
	select {
	case c = <-s.ready:
	default:
	}
	if !slices.Contains(c.paths, path) {
		c.n++
		if len(c.paths) < maxChanges {
			c.paths = append(c.paths, path)
		}
	}
	s.ready <- c // add is the only sender, and took what was there
}

// ignored reports whether a change to the file or directory name (a base
// name) is of no interest: version-control directories, and the files
// editors write next to the ones they edit (backups, swap files, locks,
// autosaves and the like).
func ignored(name string) bool {
	switch name {
	case ".git", ".hg", ".svn", ".jj", "4913", ".DS_Store":
		// 4913 is the file vim creates to test whether it may write.
		return true
	}
	return strings.HasSuffix(name, "~") || // backups of emacs, vim, nano
		strings.HasPrefix(name, ".#") || // emacs locks
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) || // emacs autosaves
		(strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swo") ||
			strings.HasSuffix(name, ".swx") || strings.HasSuffix(name, ".swpx"))) || // vim swap files
		strings.HasSuffix(name, "___jb_tmp___") || strings.HasSuffix(name, "___jb_old___") || // JetBrains
		strings.HasPrefix(name, ".goutputstream-") // GNOME's editors
}

// watchRoot is a path given to --watch: a directory, watched with
// everything under it, or a file.
type watchRoot struct {
	path string // cleaned
	dir  bool
}

// watchRoots checks the paths of --watch, which must exist, and makes
// them absolute.
func watchRoots(paths []string) ([]watchRoot, error) {
	roots := make([]watchRoot, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--watch: %w", err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("--watch: %w", err)
		}
		roots[i] = watchRoot{path: abs, dir: fi.IsDir()}
	}
	return roots, nil
}

// under reports whether path is below the directory dir; both are clean
// and absolute.
func under(path, dir string) bool {
	if dir == "/" {
		return path != "/"
	}
	return strings.HasPrefix(path, dir+"/")
}

// shortPath returns path relative to the working directory if it is
// below it, for output.
func shortPath(path string) string {
	if wd, err := os.Getwd(); err == nil && under(path, wd) {
		return path[len(wd)+1:]
	}
	return path
}

// skip says whether path, which a watch finds under one of its roots,
// is of no interest: ignored, or one of the files the watcher is told to
// leave alone (the program, which a build may write under a watched
// directory).
type skipFunc func(path string) bool

// newSkip returns the skipFunc for the files in leave alone.
func newSkip(leave []string) skipFunc {
	return func(path string) bool {
		return ignored(filepath.Base(path)) || slices.Contains(leave, path)
	}
}

// walkRoots calls fn for every directory and regular file under the roots
// (a file root alone) but those skip leaves out, with nothing below a
// directory it leaves out.
func walkRoots(roots []watchRoot, skip skipFunc, fn func(path string, dir bool) error) error {
	for _, r := range roots {
		if !r.dir {
			if err := fn(r.path, false); err != nil {
				return err
			}
			continue
		}
		err := filepath.WalkDir(r.path, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // gone meanwhile
				}
				return err
			}
			if path != r.path && skip(path) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || d.Type().IsRegular() {
				return fn(path, d.IsDir())
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
