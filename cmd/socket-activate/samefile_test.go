//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSameFileComparesOpenFileDescriptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(name string, flag int) int {
		f, err := os.OpenFile(name, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFDs(p[:]) })
	dup := func(fd int) int {
		d, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(d) })
		return d
	}
	file := open(path, os.O_RDONLY)
	null := open(os.DevNull, os.O_RDWR)
	kernelTells := comparesOpenFiles(t)
	tests := []struct {
		name string
		a, b int
		want bool
	}{
		{"an fd and its dup are the same", file, dup(file), true},
		{"a pipe's read end and its dup are the same", p[0], dup(p[0]), true},
		{"the two ends of a pipe differ", p[0], p[1], false},
		{"/dev/null opened twice is two files", null, open(os.DevNull, os.O_RDWR), false},
		{"a file opened for reading and for writing is two files", file, open(path, os.O_WRONLY), false},
		{"a file opened twice alike is two files where the kernel tells", file, open(path, os.O_RDONLY), !kernelTells},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sameFile(tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Errorf("sameFile = %v, %v; want %v", got, err, tt.want)
			}
			// systemd's fallback agrees, except on two opens alike.
			if tt.name == tests[len(tests)-1].name {
				tt.want = true
			}
			if got, err := sameFileByStat(tt.a, tt.b); err != nil || got != tt.want {
				t.Errorf("sameFileByStat = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
