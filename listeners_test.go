package activation

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestBoundToMatchesWhatNetListenWouldBind(t *testing.T) {
	v4 := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip).To4(), Port: port} }
	v6 := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		network, address string
		laddr            net.Addr
		want             bool
	}{
		{"tcp", ":8080", v4("0.0.0.0", 8080), true},
		{"tcp", ":8080", v6("::", 8080), true},
		{"tcp4", ":8080", v6("::", 8080), false},
		{"tcp6", ":8080", v4("0.0.0.0", 8080), false},
		{"tcp", ":8080", v4("127.0.0.1", 8080), false},
		{"tcp", ":8081", v4("0.0.0.0", 8080), false},
		{"tcp", "127.0.0.1:8080", v4("127.0.0.1", 8080), true},
		{"tcp", "[::1]:8080", v6("::1", 8080), true},
		{"tcp", "[::1]:8080", v4("127.0.0.1", 8080), false},
		{"tcp", "0.0.0.0:8080", v6("::", 8080), false},
		{"tcp", ":http", v4("0.0.0.0", 80), true},
		{"tcp", "8080", v4("0.0.0.0", 8080), false},
		{"udp", ":53", &net.UDPAddr{IP: net.IPv4zero, Port: 53}, true},
		{"tcp", ":53", &net.UDPAddr{IP: net.IPv4zero, Port: 53}, false},
		{"unix", "/run/app.sock", &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, true},
		{"unix", "/run/./app.sock", &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, true},
		{"unix", "app.sock", &net.UnixAddr{Name: filepath.Join(wd, "app.sock"), Net: "unix"}, true},
		{"unixpacket", "/run/app.sock", &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, false},
		{"unix", "@app", &net.UnixAddr{Name: "@app", Net: "unix"}, true},
		{"unix", "@app", &net.UnixAddr{Name: "/app", Net: "unix"}, false},
		{"unixgram", "/run/log", &net.UnixAddr{Name: "/run/log", Net: "unixgram"}, true},
		{"tcp", ":8080", nil, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s against %v is %v", tt.network, tt.address, tt.laddr, tt.want), func(t *testing.T) {
			if got := boundTo(tt.network, tt.address, tt.laddr); got != tt.want {
				t.Errorf("boundTo(%q, %q, %v) = %v, want %v", tt.network, tt.address, tt.laddr, got, tt.want)
			}
		})
	}
}

func TestParseSelectorReadsEveryForm(t *testing.T) {
	names := map[string]bool{"web": true, "a:1": true}
	hasName := func(n string) bool { return names[n] }
	tests := []struct {
		address string
		want    selector
		err     string
	}{
		{"sd-listen", selector{}, ""},
		{"sd-listen:web", selector{byName: true, name: "web"}, ""},
		{"sd-listen:", selector{byName: true, name: ""}, ""},
		{"sd-listen:web:2", selector{byName: true, name: "web", byIndex: true, index: 2}, ""},
		{"sd-listen:a:1", selector{byName: true, name: "a:1"}, ""},
		{"sd-listen:b:x", selector{byName: true, name: "b:x"}, ""},
		{"sd-listen:web:-1", selector{byName: true, name: "web:-1"}, ""},
		{"fd:3", selector{byFD: true, fd: 3}, ""},
		{"fd:-3", selector{}, `activation: "fd:-3": "-3" is not a file descriptor number`},
		{"fd:+3", selector{}, `activation: "fd:+3": "+3" is not a file descriptor number`},
		{"fd:", selector{}, `activation: "fd:": "" is not a file descriptor number`},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			got, err := parseSelector(tt.address, hasName)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseSelector(%q) = %+v, %v; want %+v", tt.address, got, err, tt.want)
			}
		})
	}
}

func TestOrdinaryAddressesAreNotSelectors(t *testing.T) {
	for _, a := range []string{":8080", "sd-listener", "/run/sd-listen", "fd", "localhost:80", "@sd-listen"} {
		if isSelector(a) {
			t.Errorf("isSelector(%q) = true", a)
		}
	}
}
