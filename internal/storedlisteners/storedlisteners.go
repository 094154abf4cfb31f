// Package storedlisteners records the listening sockets this process has
// kept in the manager's file descriptor store with notify.StoreListener, by
// address, so that package graceful can tell that a listener it serves on
// outlives the process: the next start gets the same socket back.
package storedlisteners

import (
	"net"
	"sync"
)

// addrKey is a listener's address as the net package writes it.
type addrKey struct{ network, addr string }

var stored struct {
	sync.Mutex
	byName map[string][]addrKey
}

// Add records that the listener on a was stored under name. A nil a is
// not recorded.
func Add(name string, a net.Addr) {
	if a == nil {
		return
	}
	stored.Lock()
	defer stored.Unlock()
	if stored.byName == nil {
		stored.byName = map[string][]addrKey{}
	}
	stored.byName[name] = append(stored.byName[name], addrKey{a.Network(), a.String()})
}

// Remove forgets the listeners stored under name, as the manager does with
// FDSTOREREMOVE=1.
func Remove(name string) {
	stored.Lock()
	defer stored.Unlock()
	delete(stored.byName, name)
}

// Has reports whether a listener on a was stored and not removed since.
func Has(a net.Addr) bool {
	if a == nil {
		return false
	}
	k := addrKey{a.Network(), a.String()}
	stored.Lock()
	defer stored.Unlock()
	for _, keys := range stored.byName {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
	}
	return false
}

// Count returns the number of listeners stored and not removed since.
func Count() int {
	stored.Lock()
	defer stored.Unlock()
	n := 0
	for _, keys := range stored.byName {
		n += len(keys)
	}
	return n
}
