//go:build linux

package fdstore

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/go-activation/activation/internal/restarttest"
)

// A service that keeps an O_PATH handle in the fd store still gets its
// listener after a restart: the handle is an fd of kind other, not an
// error that costs the listener. As systemd does, the store keeps such a
// handle only when it is stored with FDPOLL=0, since it cannot be watched
// for hang-ups.
func TestAnOPathHandleInTheStoreDoesNotCostTheListener(t *testing.T) {
	for _, tt := range []struct {
		name, nopoll, second, warning string
	}{
		{"stored with FDPOLL=0, it comes back", "1", `; fd 4 "dir": other`, ""},
		{"stored to be watched, it is refused", "0", "",
			`socket-activate: warning: fd store: fd named "dir" not kept: it cannot be watched for hang-ups`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			server := restarttest.Build(t, "github.com/go-activation/activation/internal/fdstore/testdata/opath")
			const line = `^opath server (\d+) inherited: (.*)$`
			p := restarttest.StartActivator(t, restarttest.ActivatorConfig{
				Path:    restarttest.BuildActivator(t),
				Args:    []string{"--notify", "--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web", "-E", "NOPOLL=" + tt.nopoll, server},
				Program: server,
				PIDLine: line,
				Timeout: timeout,
			})
			addr := p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
			client := restarttest.Client(timeout)
			for start := 1; start <= 2; start++ {
				m := p.Output.Wait(t, line, start)[start-1]
				want := fmt.Sprintf(`fd 3 "web": tcp listener on %s`, addr)
				if start == 2 {
					want += tt.second
				}
				if m[2] != want {
					t.Errorf("start %d inherited:\n-want %s\n+got  %s", start, want, m[2])
				}
				body, err := restarttest.Get(client, "http://"+addr+"/")
				if err != nil {
					t.Fatalf("start %d: %v", start, err)
				}
				if got := strings.TrimSpace(string(body)); got != m[1] {
					t.Errorf("start %d: answered by pid %s, want %s", start, got, m[1])
				}
				if start == 1 {
					p.Signal(t, syscall.SIGHUP)
				}
			}
			warned := len(p.Output.Matches("^socket-activate: warning: ")) > 0
			if tt.warning != "" && len(p.Output.Matches("^"+tt.warning)) == 0 || tt.warning == "" && warned {
				t.Errorf("warnings: want %q, got:\n%s", tt.warning, p.Output.Text())
			}
		})
	}
}
