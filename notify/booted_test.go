package notify

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBootedMeansTheRunDirectoryIsADirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir string
		want      bool
	}{
		{"a directory", dir + "/", true},
		{"a symbolic link to a directory", link + "/", true},
		{"a regular file", file + "/", false},
		{"nothing", filepath.Join(dir, "missing") + "/", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := booted(tt.dir); got != tt.want {
				t.Errorf("booted(%q) = %v, want %v", tt.dir, got, tt.want)
			}
		})
	}
	// This machine: whatever it is, Booted agrees with a direct look.
	fi, err := os.Stat("/run/systemd/system")
	if want := err == nil && fi.IsDir(); Booted() != want {
		t.Errorf("Booted() = %v, but /run/systemd/system is a directory: %v", Booted(), want)
	}
}
