//go:build unix

package activationtest_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/go-activation/activation/activationtest"
)

// The test binary runs itself as an activated child: its TestMain (in
// activationtest_unix_test.go) runs the helper named "greeter" when
// activationtest.HelperName returns it, and the helper accepts one
// connection on fd 3.
func ExampleCommand() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	exe, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}

	cmd, err := activationtest.Command([]activationtest.Socket{{Name: "web", Listener: l}}, exe, "-test.run=^$")
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd.Env = append(cmd.Env, activationtest.HelperEnv+"=greeter")
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child has its own copies now
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cmd.Wait()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(greeting)
	// Output:
	// hello: LISTEN_PID is my pid: true, LISTEN_FDS=1, LISTEN_FDNAMES=web
}

// A test of an HTTP server whose code runs in the helper "server" of the
// test binary's TestMain:
//
//	func TestMain(m *testing.M) {
//		if activationtest.HelperName() == "server" {
//			l, err := activation.Listen("tcp", "sd-listen:web")
//			if err != nil {
//				log.Fatal(err)
//			}
//			log.Fatal(http.Serve(l, newHandler()))
//		}
//		os.Exit(m.Run())
//	}
func ExampleSelf() {
	testServer := func(t *testing.T) {
		web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
		activationtest.Self(t, []activationtest.Socket{web}, "server")

		// The listener is open already: no need to wait for the child.
		resp, err := http.Get("http://" + web.Listener.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /: %s", resp.Status)
		}
	}
	_ = testServer
}

// A test of a server binary built beforehand, with its sockets on loopback
// and in a temporary directory.
func ExampleStart() {
	testServer := func(t *testing.T) {
		web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
		admin := activationtest.Listen(t, "admin", "unix", t.TempDir()+"/admin.sock")
		activationtest.Start(t, []activationtest.Socket{web, admin}, "./myserver", "-v")
		// talk to web.Listener.Addr() and admin.Listener.Addr() …
	}
	_ = testServer
}
