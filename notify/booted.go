package notify

import "os"

// runDir is the directory systemd creates at boot when it is the init
// system (sd_booted(3)).
const runDir = "/run/systemd/system/"

// Booted reports whether the system was booted with systemd as its init
// system, as sd_booted(3) tells: /run/systemd/system/ exists and is a
// directory. Code that looks for socket activation or a manager only
// under systemd checks this first; it says nothing about whether this
// process was started by systemd (NOTIFY_SOCKET and LISTEN_PID say that).
// It is false on systems without systemd, and on other platforms.
func Booted() bool {
	return booted(runDir)
}

func booted(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}
