package restarttest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const timeout = 10 * time.Second

func TestLinesWaitReturnsTheFirstMatchesAndSeesTheEnd(t *testing.T) {
	r, w := io.Pipe()
	defer r.Close()
	l := NewLines(r, timeout)
	go func() {
		io.WriteString(w, "child: pid 12\nother\nchild: pid 34\nchild: pid 56\n")
		w.Close()
	}()
	got := l.Wait(t, `^child: pid (\d+)$`, 2)
	want := [][]string{{"child: pid 12", "12"}, {"child: pid 34", "34"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Wait (-want +got):\n-%q\n+%q", want, got)
	}
	if err := l.WaitEOF(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Replaced(`pid \d+`, "pid PID"), []string{"child: pid PID", "other", "child: pid PID", "child: pid PID"}; !slices.Equal(got, want) {
		t.Errorf("Replaced (-want +got):\n%s", Diff(want, got))
	}
	if got, want := len(l.Matches(`^child`)), 3; got != want {
		t.Errorf("Matches found %d lines, want %d", got, want)
	}
	if got, want := l.Text(), "child: pid 12\nother\nchild: pid 34\nchild: pid 56"; got != want {
		t.Errorf("Text:\n-%q\n+%q", want, got)
	}
}

func TestLinesWaitEOFGivesUpAfterTheTimeout(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	defer r.Close()
	l := NewLines(r, 10*time.Millisecond)
	if err := l.WaitEOF(); err == nil || !strings.HasPrefix(err.Error(), "restarttest: ") {
		t.Errorf("WaitEOF on an open pipe: %v, want a restarttest error", err)
	}
}

func TestLoadCountsAnswersByPIDAndFailures(t *testing.T) {
	const maxRequests = 60
	// One worker, for counts known in advance: of each three requests,
	// one is answered by pid 100 or 101 in turn, one by an answer that
	// names no pid, and one fails.
	l := StartLoad(t, LoadConfig{Workers: 1, MaxRequests: maxRequests, Duration: timeout, Timeout: timeout}, func(w, i int) (int, error) {
		switch i % 3 {
		case 0:
			return 100 + i%2, nil
		case 1:
			return 0, nil
		}
		return 0, fmt.Errorf("worker %d request %d failed", w, i)
	})
	l.WaitFor(t, "every request answered or failed", func() bool { return l.Answered()+l.Failed() == maxRequests })
	l.Halt()
	l.Add(7, nil)
	l.Add(0, errors.New("the test's own request failed"))

	if got, want := l.Requests(), maxRequests+2; got != want {
		t.Errorf("Requests() = %d, want %d", got, want)
	}
	if got, want := l.Answered(), 40+1; got != want {
		t.Errorf("Answered() = %d, want %d", got, want)
	}
	if got, want := l.Failed(), 20+1; got != want {
		t.Errorf("Failed() = %d, want %d", got, want)
	}
	if got, want := l.ByPID(), map[int]int{7: 1, 100: 10, 101: 10}; !reflect.DeepEqual(got, want) {
		t.Errorf("ByPID() = %v, want %v", got, want)
	}
	if got, want := l.PIDs(), []int{7, 100, 101}; !slices.Equal(got, want) {
		t.Errorf("PIDs() = %v, want %v", got, want)
	}
	if got, want := l.AnsweredBy(101), 10; got != want {
		t.Errorf("AnsweredBy(101) = %d, want %d", got, want)
	}
	want := "restarttest: 21 of 62 requests failed; the first ones:\n" +
		"worker 0 request 2 failed\nworker 0 request 5 failed\nworker 0 request 8 failed\n" +
		"worker 0 request 11 failed\nworker 0 request 14 failed"
	if err := l.Err(); err == nil || err.Error() != want {
		t.Errorf("Err():\n-%s\n+%v", want, err)
	}
}

func TestLoadStopsAtMaxRequestsAcrossWorkers(t *testing.T) {
	l := StartLoad(t, LoadConfig{Workers: 4, MaxRequests: 100, Duration: timeout, Timeout: timeout}, func(w, i int) (int, error) { return 1 + w, nil })
	l.WaitFor(t, "100 answers", func() bool { return l.Answered() == 100 })
	l.Halt()
	if got, want := l.Requests(), 100; got != want {
		t.Errorf("Requests() = %d, want %d", got, want)
	}
	if got := l.AnsweredBy(1) + l.AnsweredBy(2) + l.AnsweredBy(3) + l.AnsweredBy(4); got != 100 {
		t.Errorf("the workers' pids answered %d requests, want 100", got)
	}
}

func TestLoadWithoutFailuresHasNoError(t *testing.T) {
	l := StartLoad(t, LoadConfig{Workers: 2, MaxRequests: 10, Duration: timeout, Timeout: timeout}, func(w, i int) (int, error) { return 1, nil })
	l.WaitFor(t, "10 answers", func() bool { return l.Answered() == 10 })
	l.Halt()
	if err := l.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		io.WriteString(w, "hello\n")
	}))
	defer srv.Close()
	client := Client(timeout)
	defer client.CloseIdleConnections()

	t.Run("a 200 OK answer returns the body", func(t *testing.T) {
		body, err := Get(client, srv.URL+"/ok")
		if err != nil || string(body) != "hello\n" {
			t.Errorf("Get = %q, %v; want %q, nil", body, err, "hello\n")
		}
	})
	t.Run("another status is an error that shows the body", func(t *testing.T) {
		_, err := Get(client, srv.URL+"/missing")
		want := fmt.Sprintf("restarttest: GET %s/missing: 404 Not Found: %q", srv.URL, "no such page\n")
		if err == nil || err.Error() != want {
			t.Errorf("Get error:\n-%s\n+%v", want, err)
		}
	})
}

func TestPostOnAKeptConnection(t *testing.T) {
	conns := make(chan struct{}, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || string(body) == "bad" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write(body)
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	client := KeepAliveClient(2, timeout)
	defer client.CloseIdleConnections()

	t.Run("a 200 OK answer returns the body, and the connection is kept", func(t *testing.T) {
		for i := range 3 {
			body := fmt.Sprintf("request %d", i)
			got, err := Post(client, srv.URL, []byte(body))
			if err != nil || string(got) != body {
				t.Errorf("Post = %q, %v; want %q, nil", got, err, body)
			}
		}
		if n := len(conns); n != 1 {
			t.Errorf("3 requests in a row used %d connections, want 1", n)
		}
	})
	t.Run("another status is an error that shows the body", func(t *testing.T) {
		_, err := Post(client, srv.URL, []byte("bad"))
		want := fmt.Sprintf("restarttest: POST %s: 400 Bad Request: %q", srv.URL, "bad request\n")
		if err == nil || err.Error() != want {
			t.Errorf("Post error:\n-%s\n+%v", want, err)
		}
	})
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got []string
		diff      string
	}{
		{"equal lines show with a space", []string{"a", "b"}, []string{"a", "b"}, " a\n b\n"},
		{"a different line shows as - then +", []string{"a", "b"}, []string{"a", "c"}, " a\n-b\n+c\n"},
		{"a missing line shows as -", []string{"a", "b"}, []string{"a"}, " a\n-b\n"},
		{"an extra line shows as +", []string{"a"}, []string{"a", "b"}, " a\n+b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff(tt.want, tt.got); got != tt.diff {
				t.Errorf("Diff:\n-%q\n+%q", tt.diff, got)
			}
		})
	}
}
