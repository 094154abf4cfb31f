//go:build linux

// Command opath is a server that keeps an O_PATH handle on a directory in
// the fd store beside its listener (with FDPOLL=0 when NOPOLL=1), for the
// fd store tests: each start prints what it inherited, then serves its
// pid over HTTP.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/notify"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "opath: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	infos, err := activation.Inherited()
	if err != nil {
		return err
	}
	l, err := activation.Listen("tcp", "sd-listen:web")
	if err != nil {
		return err
	}
	var descs []string
	stored := false
	for _, info := range infos {
		descs = append(descs, info.String())
		stored = stored || info.Name == "dir"
	}
	if !stored {
		fd, err := unix.Open(os.TempDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		dir := os.NewFile(uintptr(fd), "dir")
		store := notify.StoreFile
		if os.Getenv("NOPOLL") == "1" {
			store = func(name string, f *os.File) (bool, error) { return notify.StoreNoPoll(name, f) }
		}
		if _, err := store("dir", dir); err != nil {
			return err
		}
		dir.Close()
	}
	if _, err := notify.Ready(); err != nil {
		return err
	}
	fmt.Printf("opath server %d inherited: %s\n", os.Getpid(), strings.Join(descs, "; "))
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", os.Getpid())
	}))
}
