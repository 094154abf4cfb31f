package activation

import (
	"fmt"
	"net"
	"testing"
)

// matchesIP runs an address and a socket's local address through the
// rules Listen uses for IP networks, without fds.
func matchesIP(network, address string, laddr net.Addr, v6only bool) bool {
	t, ok := parseTarget(network, address)
	if !ok || !t.mayBe(laddr) {
		return false
	}
	ip := net.ParseIP(t.host)
	if t.host != "" && ip == nil {
		var err error
		if ip, err = resolve(network, t.host); err != nil {
			return false
		}
	}
	return boundTo(network, t.host, ip, candidate{laddr: laddr, v6only: v6only})
}

// Each row of the matching table in the package doc, for IP networks. The
// unix rows, which compare files, are tested with real sockets.
func TestIPAddressesMatchAsTheKernelBinds(t *testing.T) {
	v4 := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip).To4(), Port: port} }
	v6 := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	u4 := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip).To4(), Port: port} }
	u6 := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
	const dual, v6only = false, true
	tests := []struct {
		network, address string
		laddr            net.Addr
		v6only           bool
		want             bool
	}{
		// :P and [::]:P on tcp and udp: either wildcard.
		{"tcp", ":8080", v4("0.0.0.0", 8080), dual, true},
		{"tcp", ":8080", v6("::", 8080), dual, true},
		{"tcp", ":8080", v6("::", 8080), v6only, true},
		{"tcp", "[::]:8080", v4("0.0.0.0", 8080), dual, true},
		{"tcp", "[::]:8080", v6("::", 8080), v6only, true},
		{"udp", ":53", u4("0.0.0.0", 53), dual, true},
		{"udp", ":53", u6("::", 53), dual, true},
		{"tcp", ":8080", v4("127.0.0.1", 8080), dual, false},
		{"tcp", ":8081", v4("0.0.0.0", 8080), dual, false},
		// 0.0.0.0:P on tcp and udp: the IPv4 wildcard, or a dual-stack IPv6 one.
		{"tcp", "0.0.0.0:8080", v4("0.0.0.0", 8080), dual, true},
		{"tcp", "0.0.0.0:8080", v6("::", 8080), dual, true},
		{"tcp", "0.0.0.0:8080", v6("::", 8080), v6only, false},
		{"udp", "0.0.0.0:53", u6("::", 53), dual, true},
		// tcp4 and udp4: only the IPv4 wildcard.
		{"tcp4", ":8080", v4("0.0.0.0", 8080), dual, true},
		{"tcp4", "0.0.0.0:8080", v4("0.0.0.0", 8080), dual, true},
		{"tcp4", ":8080", v6("::", 8080), dual, false},
		{"tcp4", "0.0.0.0:8080", v6("::", 8080), dual, false},
		{"udp4", ":53", u6("::", 53), dual, false},
		// tcp6 and udp6: only the IPv6 wildcard.
		{"tcp6", ":8080", v6("::", 8080), dual, true},
		{"tcp6", "[::]:8080", v6("::", 8080), v6only, true},
		{"tcp6", ":8080", v4("0.0.0.0", 8080), dual, false},
		{"tcp6", "0.0.0.0:8080", v6("::", 8080), dual, false},
		{"udp6", ":53", u4("0.0.0.0", 53), dual, false},
		// IP:P: that address exactly.
		{"tcp", "127.0.0.1:8080", v4("127.0.0.1", 8080), dual, true},
		{"tcp", "127.0.0.1:8080", v4("0.0.0.0", 8080), dual, false},
		{"tcp", "127.0.0.1:8080", v6("::ffff:127.0.0.1", 8080), dual, true},
		{"tcp", "[::1]:8080", v6("::1", 8080), dual, true},
		{"tcp", "[::1]:8080", v4("127.0.0.1", 8080), dual, false},
		{"tcp", "[::1]:8080", v6("::", 8080), dual, false},
		{"tcp4", "127.0.0.1:8080", v4("127.0.0.1", 8080), dual, true},
		{"tcp6", "127.0.0.1:8080", v4("127.0.0.1", 8080), dual, false},
		{"udp", "127.0.0.1:53", u4("127.0.0.1", 53), dual, true},
		// HOST:P: what the host name resolves to (localhost, from /etc/hosts).
		{"tcp4", "localhost:8080", v4("127.0.0.1", 8080), dual, true},
		{"tcp4", "localhost:8080", v4("0.0.0.0", 8080), dual, false},
		// :SERVICE: the service's port.
		{"tcp", ":http", v4("0.0.0.0", 80), dual, true},
		{"tcp", ":http", v4("0.0.0.0", 8080), dual, false},
		// Not an address, or another kind of socket.
		{"tcp", "8080", v4("0.0.0.0", 8080), dual, false},
		{"tcp", ":53", u4("0.0.0.0", 53), dual, false},
		{"udp", ":8080", v4("0.0.0.0", 8080), dual, false},
		{"tcp", ":8080", nil, dual, false},
		{"tcp", ":8080", &net.UnixAddr{Name: ":8080", Net: "unix"}, dual, false},
	}
	for _, tt := range tests {
		stack := "dual-stack"
		if tt.v6only {
			stack = "IPv6-only"
		}
		t.Run(fmt.Sprintf("%s %s against %v (%s) is %v", tt.network, tt.address, tt.laddr, stack, tt.want), func(t *testing.T) {
			if got := matchesIP(tt.network, tt.address, tt.laddr, tt.v6only); got != tt.want {
				t.Errorf("%s %s against %v (%s) = %v, want %v", tt.network, tt.address, tt.laddr, stack, got, tt.want)
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
		{"fd:-3", selector{}, `"-3" is not a file descriptor number`},
		{"fd:+3", selector{}, `"+3" is not a file descriptor number`},
		{"fd:", selector{}, `"" is not a file descriptor number`},
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
