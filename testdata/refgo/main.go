// Command refgo calls the Go package the way testdata/reference calls
// libsystemd, and prints the same report, so that the two can be compared
// on any environment.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-activation/activation"
	"golang.org/x/sys/unix"
)

func main() {
	if tmpl, ok := os.LookupEnv("REF_PID"); ok {
		parts := strings.SplitN(tmpl, "|", 3)
		base, _ := strconv.Atoi(parts[1])
		os.Setenv("LISTEN_PID", parts[0]+strconv.FormatInt(int64(os.Getpid()), base)+parts[2])
	}
	pass, _ := strconv.Atoi(os.Getenv("REF_PASS"))
	files, err := activation.Files()
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Printf("result %d\n", len(files))
	case errors.As(err, &errno):
		fmt.Printf("result %d\n", -int(errno))
	default:
		fmt.Printf("result error %q\n", err)
	}
	for _, f := range files {
		fmt.Printf("name %x\n", f.Name())
	}
	for _, v := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(v); ok {
			fmt.Printf("left %s\n", v)
		}
	}
	for fd := 3; fd < 3+pass; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		cloexec := 0
		if err == nil && flags&unix.FD_CLOEXEC != 0 {
			cloexec = 1
		}
		fmt.Printf("cloexec %d %d\n", fd, cloexec)
	}
}
