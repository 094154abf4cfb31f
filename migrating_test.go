package activation_test

import (
	"encoding/json"
	"fmt"
	"go/build/constraint"
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
// blocks in one package. A file whose build constraint leaves it out on
// this platform is also built alone, without the constraint, so that it
// compiles too.

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

// source returns s as a Go file, with the imports it needs and a line
// directive that points compile errors at the guide.
func (s snippet) source(guide string) (string, error) {
	directive := fmt.Sprintf("//line %s:%d\n", guide, s.line)
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", s.code, parser.PackageClauseOnly); err == nil && f.Name != nil {
		return directive + s.code, nil // a whole file
	}
	head := "package " + strings.ReplaceAll(path.Base(s.pkg), "-", "") + "\n"
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

// leftOut reports whether src has a //go:build line that excludes it on
// this platform, and returns src without that line (a blank comment in
// its place keeps the line numbers).
func leftOut(src string) (bool, string) {
	lines := strings.SplitAfter(src, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "package ") {
			break
		}
		if !constraint.IsGoBuild(line) {
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			return false, src // go build reports it
		}
		unix := !slices.Contains([]string{"windows", "plan9", "js", "wasip1"}, runtime.GOOS)
		if expr.Eval(func(tag string) bool {
			return tag == runtime.GOOS || tag == runtime.GOARCH || tag == "unix" && unix
		}) {
			return false, src
		}
		lines[i] = "//\n"
		return true, strings.Join(lines, "")
	}
	return false, src
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
	type build struct {
		module   string
		overlay  map[string]string
		packages []string
	}
	builds := map[string]*build{
		"before": {module: filepath.Join(root, "bench"), overlay: map[string]string{}},
		"after":  {module: root, overlay: map[string]string{}},
	}
	dir := t.TempDir()
	files := 0
	add := func(b *build, pkg, file, src string) {
		files++
		tmp := filepath.Join(dir, strconv.Itoa(files)+".go")
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		b.overlay[filepath.Join(b.module, "testdata", "migrating", pkg, file)] = tmp
		if p := "./testdata/migrating/" + pkg; !slices.Contains(b.packages, p) {
			b.packages = append(b.packages, p)
		}
	}
	for _, s := range snippets {
		src, err := s.source(guide)
		if err != nil {
			t.Error(err)
			continue
		}
		b := builds[s.kind]
		add(b, s.pkg, s.file, src)
		if out, alone := leftOut(src); out {
			add(b, s.pkg+"/"+strings.TrimSuffix(s.file, ".go"), s.file, alone)
		}
	}
	if t.Failed() {
		return
	}

	var wg sync.WaitGroup
	for kind, b := range builds {
		overlay, err := json.Marshal(map[string]any{"Replace": b.overlay})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, kind+".json")
		if err := os.WriteFile(file, overlay, 0o644); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(goTool, append([]string{"build", "-overlay", file}, b.packages...)...)
			cmd.Dir = b.module
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("the %s blocks: go build in %s: %v\n%s", kind, b.module, err, out)
			}
		}()
	}
	wg.Wait()
}
