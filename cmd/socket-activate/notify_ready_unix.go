//go:build unix

package main

// readyEvents returns a channel that gets a value when the new build's
// program sends its first READY=1, holding one not taken yet: a switch to
// it waits on it.
func (n *notifier) readyEvents() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.readyc == nil {
		n.readyc = make(chan struct{}, 1)
	}
	return n.readyc
}

// readied passes the new build's program's READY=1 on to readyEvents.
// n.mu must be held.
func (n *notifier) readied() {
	if n.readyc == nil {
		return
	}
	select {
	case n.readyc <- struct{}{}:
	default: // one not taken yet
	}
}
