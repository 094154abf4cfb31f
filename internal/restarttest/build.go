package restarttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// ActivatorPackage is the import path of socket-activate.
const ActivatorPackage = "github.com/go-activation/activation/cmd/socket-activate"

// buildTimeout bounds one go build.
const buildTimeout = 5 * time.Minute

// builds holds what Build built in this test binary, by import path.
var builds struct {
	sync.Mutex
	dir   string // holds every program built; "" before the first
	byPkg map[string]*built
}

// built is one program, built once.
type built struct {
	once sync.Once
	path string
	err  error
}

// Build builds the main package pkg, an import path, once per test binary,
// and returns the program's path. Every test that asks for the same pkg
// gets the same program, or fails with the same build error. The programs
// live in a directory of their own that outlives each test: a TestMain
// that uses Build calls RemoveBuilt after m.Run.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builds.Lock()
	if builds.byPkg == nil {
		builds.byPkg = map[string]*built{}
	}
	b := builds.byPkg[pkg]
	if b == nil {
		b = &built{}
		builds.byPkg[pkg] = b
	}
	builds.Unlock()
	b.once.Do(func() { b.path, b.err = build(pkg) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// BuildActivator builds socket-activate as Build does and returns its path.
func BuildActivator(t testing.TB) string {
	t.Helper()
	return Build(t, ActivatorPackage)
}

// RemoveBuilt removes every program Build built. A TestMain calls it after
// m.Run; Build must not run after it.
func RemoveBuilt() error {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir == "" {
		return nil
	}
	if err := os.RemoveAll(builds.dir); err != nil {
		return fmt.Errorf("restarttest: %w", err)
	}
	builds.dir = ""
	return nil
}

// build runs go build for pkg into a directory of its own under
// builds.dir.
func build(pkg string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("restarttest: the go command is needed to build %s: %w", pkg, err)
	}
	builds.Lock()
	if builds.dir == "" {
		builds.dir, err = os.MkdirTemp("", "restarttest-")
	}
	parent := builds.dir
	builds.Unlock()
	if err != nil {
		return "", fmt.Errorf("restarttest: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "build-")
	if err != nil {
		return "", fmt.Errorf("restarttest: %w", err)
	}
	bin := filepath.Join(dir, path.Base(pkg))
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("restarttest: %q: %w\n%s", cmd.Args, err, out)
	}
	return bin, nil
}
