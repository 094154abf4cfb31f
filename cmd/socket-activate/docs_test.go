//go:build unix

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// usageOptions returns the lines of --help's option list.
func usageOptions(t *testing.T) []string {
	t.Helper()
	_, rest, ok := strings.Cut(usage, "\nOptions:\n")
	block, _, ok2 := strings.Cut(rest, "\n\n")
	if !ok || !ok2 {
		t.Fatal("usage has no Options: section followed by a blank line")
	}
	return strings.Split(block, "\n")
}

func TestDocGoListsTheOptionsAsHelpDoes(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range usageOptions(t) {
		want = append(want, "//\t"+strings.TrimPrefix(l, "  "))
	}
	if !strings.Contains(string(src), strings.Join(want, "\n")+"\n") {
		t.Errorf("doc.go does not list the options as --help does; it should hold:\n%s", strings.Join(want, "\n"))
	}
}

func TestREADMEFlagTableHasEveryLongOption(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The flags in the first cell of each row of a table of flags.
	inTable := map[string]bool{}
	flag := regexp.MustCompile(`--[a-z-]+`)
	for _, l := range strings.Split(string(readme), "\n") {
		if cell, _, ok := strings.Cut(strings.TrimPrefix(l, "| `"), " | "); ok && strings.HasPrefix(l, "| `-") {
			for _, f := range flag.FindAllString(cell, -1) {
				inTable[f] = true
			}
		}
	}
	long := regexp.MustCompile(`^\s+(?:-\w, )?(--[a-z-]+)`)
	for _, l := range usageOptions(t) {
		m := long.FindStringSubmatch(l)
		if m == nil || m[1] == "--help" || m[1] == "--version" {
			continue
		}
		if !inTable[m[1]] {
			t.Errorf("README's flag table has no row for %s", m[1])
		}
	}
}
