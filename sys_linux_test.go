package activation_test

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// pidfsID is the id of a pidfd of this process: its inode number on pidfs
// (64-bit). ok is false on kernels without pidfs.
func pidfsID() (id uint64, ok bool) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(fd, &fs) != nil || uint32(fs.Type) != 0x50494446 || unix.Fstat(fd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

// setPidfdID sets LISTEN_PIDFDID to this process's pidfd id, or to another
// id, as a manager that knows pidfds does.
func setPidfdID(other bool) {
	id, _ := pidfsID()
	if other {
		id++
	}
	os.Setenv("LISTEN_PIDFDID", strconv.FormatUint(id, 10))
}

func TestListenPidfdIDIsCheckedAgainstThisProcess(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Skip("pidfd inode numbers are the pidfd id only on 64-bit systems")
	}
	ours := []callResult{{Call: "Files", Items: []string{"*os.File unknown mode 10000"}}}
	notOurs := []callResult{{Call: "Files"}}
	if _, ok := pidfsID(); !ok {
		// The id cannot be learnt, so libsystemd skips the check.
		t.Log("this kernel has no pidfs: LISTEN_PIDFDID is parsed but not compared")
		notOurs = ours
	}
	for _, tt := range []struct {
		name, id string
		want     []callResult
	}{
		{"the id of this process's pidfd means the fds are ours", "self", ours},
		{"another id means they are not", "other", notOurs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, childProc{
				scenario: "calls",
				files:    filesOf(pipeReader(t)),
				env:      append(activated(1), "LISTEN_PIDFDID="+tt.id),
				calls:    []call{filesCall()},
			})
			diff(t, "calls", tt.want, r.Calls)
			diff(t, "variables left set", []string(nil), r.EnvLeft)
		})
	}
}
