package activation_test

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The Go blocks of MIGRATING.md are kept compiling: each starts with a
// line "// before: NAME" (code that uses go-systemd, built in the bench
// module, which requires github.com/coreos/go-systemd/v22 v22.7.0) or
// "// after: NAME" (the same code moved to this module, built here). A
// block is a whole file when it has a package clause, top-level
// declarations when it parses as such, and otherwise statements, which
// are put in a function; imports are added for the package names the
// block uses. NAME is a package of its own, or dir/file.go to put several
// blocks in one package.

// snippetImports are the packages a block may use without importing them,
// by the name it uses, for each kind of block.
var snippetImports = map[string]map[string]string{
	"before": {
		"activation": "github.com/coreos/go-systemd/v22/activation",
		"daemon":     "github.com/coreos/go-systemd/v22/daemon",
		"util":       "github.com/coreos/go-systemd/v22/util",
	},
	"after": {
		"activation": "github.com/go-activation/activation",
		"notify":     "github.com/go-activation/activation/notify",
	},
}

// stdImports are the standard library's packages blocks of either kind
// may use without importing them.
var stdImports = map[string]string{
	"context": "context",
	"errors":  "errors",
	"exec":    "os/exec",
	"fmt":     "fmt",
	"http":    "net/http",
	"io":      "io",
	"log":     "log",
	"net":     "net",
	"os":      "os",
	"signal":  "os/signal",
	"strconv": "strconv",
	"strings": "strings",
	"syscall": "syscall",
	"time":    "time",
	"tls":     "crypto/tls",
}

// moreTargets are the platforms, besides this one, that some snippets are
// built for, to show what the guide says of them: the wrapper that once
// kept go-systemd's daemon package away from the systems it does not build
// on, and the code without it, which builds everywhere.
var moreTargets = map[string][]string{
	"before: wrapper":   {"netbsd/amd64", "aix/ppc64", "plan9/amd64"},
	"after: no-wrapper": {"netbsd/amd64", "aix/ppc64", "plan9/amd64", "windows/amd64"},
}

// goSystemdBuilds is what MIGRATING.md says of go-systemd v22.7.0 (the
// version bench/go.mod requires) on the platforms build-tag wrappers left
// out: the compile error each build fails with, or "" for one that
// succeeds.
var goSystemdBuilds = []struct{ pkg, target, wantErr string }{
	{"activation", "netbsd/amd64", ""},
	{"util", "netbsd/amd64", ""},
	{"daemon", "netbsd/amd64", "undefined: unix.CLOCK_MONOTONIC"},
	{"activation", "aix/ppc64", ""},
	{"util", "aix/ppc64", ""},
	{"daemon", "aix/ppc64", "undefined: unix.ClockGettime"},
	{"activation", "plan9/amd64", ""},
	{"util", "plan9/amd64", ""},
	{"daemon", "plan9/amd64", ""},
}

// snippet is one Go block of the guide.
type snippet struct {
	kind string // "before" or "after"
	pkg  string // the package's directory, relative to the snippets' root
	file string // the file's name in it
	line int    // the line of MIGRATING.md the code starts on
	code string // without the marker line
}

var (
	fenceRE  = regexp.MustCompile("^```(\\S*)\\s*$")
	markerRE = regexp.MustCompile(`^// (before|after): ([a-z0-9-]+)(/[a-z0-9_-]+\.go)?$`)
)

// guideSnippets reads the Go blocks of the guide at path, and reports
// every block without a marker, with a malformed one, or with a name used
// before.
func guideSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var snippets []snippet
	seen := map[string]int{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		start := i
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: a code block that does not end", path, start+1)
		}
		if m[1] != "go" {
			continue
		}
		body := lines[start+1 : i]
		if len(body) == 0 {
			t.Errorf("%s:%d: an empty Go block", path, start+1)
			continue
		}
		mark := markerRE.FindStringSubmatch(body[0])
		if mark == nil {
			t.Errorf("%s:%d: a Go block whose first line is %q, not \"// before: NAME\" or \"// after: NAME\", so no test compiles it", path, start+2, body[0])
			continue
		}
		s := snippet{kind: mark[1], pkg: mark[2], file: "snippet.go", line: start + 3, code: strings.Join(body[1:], "\n") + "\n"}
		if mark[3] != "" {
			s.file = mark[3][1:]
		}
		id := s.kind + ": " + s.pkg + "/" + s.file
		if prev, ok := seen[id]; ok {
			t.Errorf("%s:%d: %q names the block of line %d again", path, start+2, id, prev)
		}
		seen[id] = start + 2
		snippets = append(snippets, s)
	}
	return snippets
}

// source returns s as a Go file of package pkg, with the imports it needs
// and line directives that point compile errors at the guide.
func (s snippet) source(guide string) (string, error) {
	directive := fmt.Sprintf("//line %s:%d\n", guide, s.line)
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", s.code, parser.PackageClauseOnly); err == nil && f.Name != nil {
		return directive + s.code, nil // a whole file
	}
	pkg := strings.ReplaceAll(path.Base(s.pkg), "-", "")
	head := "package " + pkg + "\n"
	// Top-level declarations, or else statements.
	src := head + directive + s.code
	f, err := parser.ParseFile(fset, "", src, 0)
	if err != nil {
		src = head + "func _() {\n" + directive + s.code + "}\n"
		if f, err = parser.ParseFile(fset, "", src, 0); err != nil {
			return "", fmt.Errorf("%s:%d: neither declarations nor statements: %v", guide, s.line, err)
		}
	}
	var imports []string
	for _, id := range f.Unresolved {
		p, ok := snippetImports[s.kind][id.Name]
		if !ok {
			p, ok = stdImports[id.Name]
		}
		if ok && !slices.Contains(imports, p) {
			imports = append(imports, p)
		}
	}
	slices.Sort(imports)
	var b strings.Builder
	b.WriteString(head)
	for _, p := range imports {
		fmt.Fprintf(&b, "import %q\n", p)
	}
	// Imports add lines: the directive keeps the positions right.
	_, rest, _ := strings.Cut(src, "\n")
	b.WriteString(rest)
	return b.String(), nil
}

func TestMigratingGuideCompiles(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the guide's snippets needs the go command: %v", err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	guide := filepath.Join(root, "MIGRATING.md")
	snippets := guideSnippets(t, guide)
	if t.Failed() {
		return
	}

	// Each kind is built in its module, through an overlay: the snippets'
	// files appear under testdata/migrating there, and nothing is written
	// to the source tree.
	modules := map[string]string{"before": filepath.Join(root, "bench"), "after": root}
	dir := t.TempDir()
	type build struct {
		module   string
		overlay  map[string]string
		packages []string
	}
	builds := map[string]*build{}
	for kind, module := range modules {
		builds[kind] = &build{module: module, overlay: map[string]string{}}
	}
	for i, s := range snippets {
		src, err := s.source(guide)
		if err != nil {
			t.Error(err)
			continue
		}
		b := builds[s.kind]
		file := filepath.Join(dir, strconv.Itoa(i)+".go")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		b.overlay[filepath.Join(b.module, "testdata", "migrating", s.pkg, s.file)] = file
		if p := "./testdata/migrating/" + s.pkg; !slices.Contains(b.packages, p) {
			b.packages = append(b.packages, p)
		}
	}
	for target := range moreTargets {
		kind, pkg, _ := strings.Cut(target, ": ")
		if !slices.Contains(builds[kind].packages, "./testdata/migrating/"+pkg) {
			t.Errorf("MIGRATING.md has no %q block, which the test builds for more platforms", target)
		}
	}
	if t.Failed() {
		return
	}

	// One go build for each kind and platform, all at once.
	type job struct {
		what     string
		module   string
		overlay  string // the -overlay file, or ""
		target   string // GOOS/GOARCH
		packages []string
		wantErr  string // "" for a build that must succeed
	}
	var jobs []job
	host := runtime.GOOS + "/" + runtime.GOARCH
	for kind, b := range builds {
		overlay, err := json.Marshal(map[string]any{"Replace": b.overlay})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, kind+".json")
		if err := os.WriteFile(file, overlay, 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{"the " + kind + " blocks", b.module, file, host, b.packages, ""})
		for target, platforms := range moreTargets {
			if k, pkg, _ := strings.Cut(target, ": "); k == kind {
				for _, p := range platforms {
					jobs = append(jobs, job{"the " + target + " block", b.module, file, p, []string{"./testdata/migrating/" + pkg}, ""})
				}
			}
		}
	}
	for _, g := range goSystemdBuilds {
		jobs = append(jobs, job{"go-systemd's " + g.pkg, modules["before"], "", g.target, []string{"github.com/coreos/go-systemd/v22/" + g.pkg}, g.wantErr})
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"build"}
			if j.overlay != "" {
				args = append(args, "-overlay", j.overlay)
			}
			cmd := exec.Command(goTool, append(args, j.packages...)...)
			cmd.Dir = j.module
			goos, goarch, _ := strings.Cut(j.target, "/")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
			out, err := cmd.CombinedOutput()
			switch {
			case j.wantErr == "" && err != nil:
				t.Errorf("%s for %s: go build in %s: %v\n%s", j.what, j.target, j.module, err, out)
			case j.wantErr != "" && err == nil:
				t.Errorf("%s builds for %s; MIGRATING.md says it fails with %q", j.what, j.target, j.wantErr)
			case j.wantErr != "" && !strings.Contains(string(out), j.wantErr):
				t.Errorf("%s for %s fails with\n%s\nMIGRATING.md says it fails with %q", j.what, j.target, out, j.wantErr)
			}
		}()
	}
	wg.Wait()
}
