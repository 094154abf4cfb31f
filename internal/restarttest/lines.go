package restarttest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines collects the lines a process writes, as they arrive.
type Lines struct {
	timeout time.Duration

	mu   sync.Mutex
	all  []string
	more chan struct{} // closed when a line arrives or at the end
	eof  bool
}

// NewLines reads r line by line until its end, in a goroutine of its own.
// Wait and WaitEOF give up after timeout. The caller keeps r and closes
// it, once WaitEOF returned or the process is gone.
func NewLines(r io.Reader, timeout time.Duration) *Lines {
	l := &Lines{timeout: timeout, more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.eof = true
		close(l.more)
		l.mu.Unlock()
	}()
	return l
}

// state returns the channel closed at the next line or at the end, and
// whether the end came.
func (l *Lines) state() (more <-chan struct{}, eof bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.more, l.eof
}

// Text returns every line so far, joined by newlines.
func (l *Lines) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// Matches returns the submatches of every line so far that matches re. It
// panics if re is not a regular expression, as regexp.MustCompile does.
func (l *Lines) Matches(re string) [][]string {
	return l.matches(regexp.MustCompile(re))
}

func (l *Lines) matches(rx *regexp.Regexp) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found [][]string
	for _, s := range l.all {
		if m := rx.FindStringSubmatch(s); m != nil {
			found = append(found, m)
		}
	}
	return found
}

// Replaced returns every line so far, with each match of re replaced by
// repl as regexp.Regexp.ReplaceAllString does: a test compares output
// with pids in it that way. It panics if re is not a regular expression.
func (l *Lines) Replaced(re, repl string) []string {
	rx := regexp.MustCompile(re)
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := make([]string, len(l.all))
	for i, s := range l.all {
		lines[i] = rx.ReplaceAllString(s, repl)
	}
	return lines
}

// Wait waits until n lines match re and returns the submatches of the
// first n. It fails the test with the output so far if re is not a
// regular expression, if the output ends first, or after the timeout.
func (l *Lines) Wait(t testing.TB, re string, n int) [][]string {
	t.Helper()
	rx, err := regexp.Compile(re)
	if err != nil {
		t.Fatalf("restarttest: %v", err)
	}
	deadline := time.NewTimer(l.timeout)
	defer deadline.Stop()
	for {
		more, eof := l.state()
		found := l.matches(rx)
		if len(found) >= n {
			return found[:n]
		}
		if eof {
			t.Fatalf("output ended with %d of %d lines matching %q:\n%s", len(found), n, re, l.Text())
		}
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("no %d lines matching %q within %v:\n%s", n, re, l.timeout, l.Text())
		}
	}
}

// WaitEOF waits for the end of the output, and returns an error if it is
// still open after the timeout.
func (l *Lines) WaitEOF() error {
	deadline := time.NewTimer(l.timeout)
	defer deadline.Stop()
	for {
		more, eof := l.state()
		if eof {
			return nil
		}
		select {
		case <-more:
		case <-deadline.C:
			return errors.New("restarttest: output still open after " + l.timeout.String())
		}
	}
}

// Diff shows want and got line by line, for a test's (-want +got)
// message: " " for a line both have, "-" for a wanted line that is not
// there, "+" for a line that is there instead.
func Diff(want, got []string) string {
	var b strings.Builder
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i < len(want) && i < len(got) && want[i] == got[i]:
			fmt.Fprintf(&b, " %s\n", want[i])
		default:
			if i < len(want) {
				fmt.Fprintf(&b, "-%s\n", want[i])
			}
			if i < len(got) {
				fmt.Fprintf(&b, "+%s\n", got[i])
			}
		}
	}
	return b.String()
}
