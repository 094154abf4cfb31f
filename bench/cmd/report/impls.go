//go:build linux

package main

import (
	"fmt"
	"net"
	"os"

	sdactivation "github.com/coreos/go-systemd/v22/activation"
	"github.com/go-activation/activation"
)

// impl is one socket-activation package under measurement, called the same
// way for both.
type impl struct {
	name      string
	listeners func() ([]net.Listener, error)
	files     func() ([]*os.File, error)
}

const (
	ours = "ours"
	gosd = "go-systemd"
)

var impls = []impl{
	{name: ours, listeners: activation.Listeners, files: activation.Files},
	{
		name:      gosd,
		listeners: sdactivation.Listeners,
		files:     func() ([]*os.File, error) { return sdactivation.Files(true), nil },
	},
}

func implByName(name string) (impl, error) {
	for _, im := range impls {
		if im.name == name {
			return im, nil
		}
	}
	return impl{}, fmt.Errorf("report: unknown package %q", name)
}
