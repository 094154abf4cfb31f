module github.com/go-activation/activation/bench

go 1.24.0

replace github.com/go-activation/activation => ../

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/go-activation/activation v0.0.0-00010101000000-000000000000
)

require golang.org/x/sys v0.40.0 // indirect
