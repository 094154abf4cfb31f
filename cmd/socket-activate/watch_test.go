//go:build unix

package main

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// watchers returns the kinds of watcher this system has, by name: its
// own (inotify or kqueue) and polling.
func watchers() map[string]func([]watchRoot, skipFunc) (watcher, error) {
	own := map[string]string{"linux": "inotify", "darwin": "kqueue", "dragonfly": "kqueue", "freebsd": "kqueue", "netbsd": "kqueue", "openbsd": "kqueue"}[runtime.GOOS]
	m := map[string]func([]watchRoot, skipFunc) (watcher, error){
		"polling": func(r []watchRoot, s skipFunc) (watcher, error) { return newPollWatcher(r, s) },
	}
	if own != "" {
		m[own] = newWatcher
	}
	return m
}

// nextChanges waits for the next batch of changes from w.
func nextChanges(t *testing.T, w watcher) changes {
	t.Helper()
	select {
	case c := <-w.Changes():
		return c
	case <-time.After(timeout):
		t.Fatalf("no change reported within %v", timeout)
		return changes{}
	}
}

// awaitPath waits until a batch of changes from w holds path.
func awaitPath(t *testing.T, w watcher, path string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c := nextChanges(t, w); slices.Contains(c.paths, path) {
			return
		}
	}
	t.Fatalf("no change to %s reported within %v", path, timeout)
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchersReportChanges(t *testing.T) {
	for name, newW := range watchers() {
		t.Run(name, func(t *testing.T) {
			dir, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"src", "src/.git", "other"} {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			main := filepath.Join(dir, "src", "main.go")
			write(t, main, "package main\n")
			one := filepath.Join(dir, "other", "one.txt")
			write(t, one, "1")
			prog := filepath.Join(dir, "src", "app")
			roots, err := watchRoots([]string{filepath.Join(dir, "src"), one})
			if err != nil {
				t.Fatal(err)
			}
			w, err := newW(roots, newSkip([]string{prog}))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()

			t.Run("a file written", func(t *testing.T) {
				write(t, main, "package main // edited\n")
				awaitPath(t, w, main)
			})
			t.Run("ignored files, then a file: only the file", func(t *testing.T) {
				var ignored []string
				for _, name := range []string{".git/index", ".main.go.swp", "main.go~", "4913", "#main.go#", ".#main.go", "app", "other.go___jb_tmp___"} {
					ignored = append(ignored, filepath.Join(dir, "src", name))
					write(t, ignored[len(ignored)-1], "x")
				}
				real := filepath.Join(dir, "src", "real.go")
				write(t, real, "package main\n")
				// Every batch up to the one with real.go, and that one, must
				// hold no ignored file (earlier batches may report main.go,
				// written just before).
				for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
					c := nextChanges(t, w)
					for _, p := range c.paths {
						if slices.Contains(ignored, p) {
							t.Errorf("ignored file %s reported", p)
						}
					}
					if slices.Contains(c.paths, real) {
						return
					}
				}
				t.Fatalf("no change to %s reported within %v", real, timeout)
			})
			t.Run("a new directory with a file", func(t *testing.T) {
				sub := filepath.Join(dir, "src", "sub", "deeper")
				if err := os.MkdirAll(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(sub, "new.go"), "package sub\n")
				awaitPath(t, w, filepath.Join(sub, "new.go"))
				// And it is watched from now on.
				write(t, filepath.Join(sub, "new.go"), "package sub // edited\n")
				awaitPath(t, w, filepath.Join(sub, "new.go"))
			})
			t.Run("a file removed", func(t *testing.T) {
				if err := os.Remove(main); err != nil {
					t.Fatal(err)
				}
				awaitPath(t, w, main)
			})
			t.Run("a file root replaced by a rename, as editors save", func(t *testing.T) {
				tmp := filepath.Join(dir, "other", "one.txt.new")
				write(t, tmp, "2")
				if err := os.Rename(tmp, one); err != nil {
					t.Fatal(err)
				}
				awaitPath(t, w, one)
				write(t, one, "3")
				awaitPath(t, w, one)
			})
		})
	}
}

func TestIgnoredNames(t *testing.T) {
	for _, name := range []string{".git", ".hg", ".svn", "main.go~", ".main.go.swp", ".main.go.swo", ".#main.go", "#main.go#", "4913", "x___jb_tmp___", ".goutputstream-ABC123"} {
		if !ignored(name) {
			t.Errorf("ignored(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"main.go", ".env", "swp", "main.swp", "#notes", "go.mod", ".github", "4914"} {
		if ignored(name) {
			t.Errorf("ignored(%q) = true, want false", name)
		}
	}
}
