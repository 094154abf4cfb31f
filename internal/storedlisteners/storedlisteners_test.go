package storedlisteners

import (
	"net"
	"testing"
)

func TestAListenerIsStoredUntilItsNameIsRemoved(t *testing.T) {
	web := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	sameWeb := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	api := &net.UnixAddr{Name: "/run/api.sock", Net: "unix"}
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}
	t.Cleanup(func() { Remove("web"); Remove("api") })

	if Has(web) {
		t.Fatalf("Has(%v) before Add", web)
	}
	Add("web", web)
	Add("api", api)
	Add("nil", nil)
	for _, tt := range []struct {
		a    net.Addr
		want bool
	}{{sameWeb, true}, {api, true}, {other, false}, {nil, false}} {
		if got := Has(tt.a); got != tt.want {
			t.Errorf("Has(%v) = %v, want %v", tt.a, got, tt.want)
		}
	}
	if got := Count(); got != 2 {
		t.Errorf("Count() = %d, want 2", got)
	}
	Remove("web")
	if got := Count(); got != 1 {
		t.Errorf("Count() after Remove(\"web\") = %d, want 1", got)
	}
	if Has(web) || !Has(api) {
		t.Errorf("after Remove(\"web\"): Has(web) = %v, Has(api) = %v; want false, true", Has(web), Has(api))
	}
}
