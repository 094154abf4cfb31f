package activation_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README shows the examples' unit files as they are: each ini block
// that starts with "# examples/…" is that file.
func TestTheREADMEUnitsAreTheExamplesFiles(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```ini\n# (examples/[^\n]+)\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 6 {
		t.Fatalf("README.md shows %d unit files of the examples, want the 6 of http, udp-echo and accept-echo", len(blocks))
	}
	for _, m := range blocks {
		file, err := os.ReadFile(m[1])
		if err != nil {
			t.Errorf("README.md shows %s: %v", m[1], err)
			continue
		}
		if m[2] != string(file) {
			t.Errorf("README.md shows %s as\n%s\nbut the file is\n%s", m[1], m[2], file)
		}
	}
}

// Each example's README gives the command that runs it under an activator.
func TestEveryExampleREADMEGivesACommand(t *testing.T) {
	entries, err := os.ReadDir("examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		dir := filepath.Join("examples", ent.Name())
		b, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if !regexp.MustCompile("(?s)```(sh|shell|console)?\n[^`]*(socket-activate|tcpserver)[^`]*```").Match(b) {
			t.Errorf("%s/README.md gives no command that runs it under socket-activate, systemd-socket-activate or tcpserver", dir)
		}
	}
}

// Every relative link of the project's documents names a file or
// directory that exists.
func TestDocumentLinksResolve(t *testing.T) {
	docs := []string{"README.md", "MIGRATING.md", "examples/README.md", "bench/README.md"}
	more, _ := filepath.Glob("examples/*/README.md")
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, doc := range append(docs, more...) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
			}
		}
	}
}

// The benchmark command's doc and bench/README.md name every flag the
// command has, and no other.
func TestTheBenchReportFlagsAreDocumented(t *testing.T) {
	src, err := os.ReadFile("bench/cmd/report/main_linux.go")
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`fs\.(?:Int|String|Duration|Uint64|Bool)\("([a-z-]+)"`).FindAllStringSubmatch(string(src), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 10 {
		t.Fatalf("found %d flags in bench/cmd/report/main_linux.go", len(flags))
	}
	for _, doc := range []string{"bench/cmd/report/doc.go", "bench/README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		named := map[string]bool{}
		for _, m := range regexp.MustCompile("[`\\s]-([a-z][a-z-]*)").FindAllStringSubmatch(string(b), -1) {
			named[m[1]] = true
		}
		for _, f := range flags {
			if !named[f] {
				t.Errorf("%s does not name the flag -%s", doc, f)
			}
		}
	}
}
