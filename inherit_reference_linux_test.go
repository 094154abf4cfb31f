package activation_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSameAnswersAsLibsystemd runs libsystemd's sd_listen_fds_with_names
// (testdata/reference, linked against the system's libsystemd.so.0) and
// this package (testdata/refgo) on the same environments and fds, and
// compares what they return, the names, the variables left and the
// close-on-exec flags.
func TestSameAnswersAsLibsystemd(t *testing.T) {
	ref, refgo := buildReferences(t)

	// LISTEN_PID: literal values, or PREFIX|BASE|SUFFIX around the pid of
	// the process. (Our pid in decimal with a leading zero is left out: it
	// is octal, and invalid or not ours depending on the pid's digits.)
	pids := []string{"", "unset", "abc", "0", "-1", "1", "-0",
		"|10|", " |10|", "+|10|", "0x|16|", "0X|16|", "0b|2|", "0B|2|", "0o|8|", "0|8|", "0123", "0129", "|10| ",
		"\t|10|", "\v|10|", "\n|10|", "-|10|", "|10|x", "0b |2|", " 0b|2|", "+0x|16|", "0b+|2|", "0b-|2|",
		"0x0|16|", "00|8|", "|10|0", "4294967296", "99999999999999999999", "18446744073709551615"}
	fds := []string{"unset", "", "0", "1", "2", "3", "-1", "+2", " 2", "2 ", "0x2", "0X2", "010", "0b10", "0B10",
		"0o2", "0O2", "08", "0x", "0b", "0o", "2147483644", "2147483645", "2147483647", "2147483648",
		"9223372036854775807", "9223372036854775808", "99999999999999999999", "99999999999999999999x",
		"\v2", "\f2", "\r2", "\t 2", "- 2", "+-2", "--2", "1e3", "2_0", "0x_2", "0b 1", "0b-1", "0o+1", "\u0663", "0x1g"}
	names := []string{"unset", "", "a", "a:b", "a:b:c", ":", "::", "a:", ":b", `a\:b`, `a\:b:c`, `a\`, `\`,
		`x\n`, `\\`, `a\\:b`, "unknown", "a b", "é:ü"}

	type input struct {
		pid, fds, names string
		pass            int
		gap             int // the index among the passed fds of one left closed, or -1
	}
	var cases []input
	// Each value of each variable against a working baseline...
	for _, p := range pids {
		for pass := 0; pass <= 2; pass++ {
			cases = append(cases, input{p, "2", "a:b", pass, -1})
		}
	}
	for _, f := range fds {
		for pass := 0; pass <= 3; pass++ {
			cases = append(cases, input{"|10|", f, "unset", pass, -1})
		}
	}
	for _, n := range names {
		for pass := 1; pass <= 3; pass++ {
			cases = append(cases, input{"|10|", "2", n, pass, -1})
		}
	}
	// ...and a fixed sample of combinations.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		cases = append(cases, input{pids[rng.Intn(len(pids))], fds[rng.Intn(len(fds))], names[rng.Intn(len(names))], rng.Intn(4), -1})
	}
	// A closed fd inside the range, against every count and names.
	for _, f := range []string{"1", "2", "3", "4"} {
		for _, n := range []string{"unset", "a:b:c", "a:b", "a:b:c:d"} {
			for gap := 0; gap < 3; gap++ {
				cases = append(cases, input{"|10|", f, n, 3, gap})
			}
		}
	}

	devnull := make([]*os.File, 3)
	for i := range devnull {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		devnull[i] = f
	}
	deadline := time.Now().Add(2 * time.Minute)
	mismatches := 0
	for _, c := range cases {
		if time.Now().After(deadline) {
			t.Fatalf("out of time after comparing some of %d cases", len(cases))
		}
		env := []string{"PATH=/usr/bin:/bin", fmt.Sprintf("REF_PASS=%d", c.pass)}
		switch {
		case c.pid == "unset":
		case strings.Count(c.pid, "|") == 2:
			env = append(env, "REF_PID="+c.pid)
		default:
			env = append(env, "LISTEN_PID="+c.pid)
		}
		if c.fds != "unset" {
			env = append(env, "LISTEN_FDS="+c.fds)
		}
		if c.names != "unset" {
			env = append(env, "LISTEN_FDNAMES="+c.names)
		}
		files := append([]*os.File(nil), devnull[:c.pass]...)
		if c.gap >= 0 {
			files[c.gap] = nil // exec leaves that fd closed in the child
		}
		want := runReference(t, ref, env, files)
		if c.gap >= 0 && strings.HasPrefix(want, "result -9\n") {
			want = markedAfterGap(want, c.fds, c.gap, c.pass)
		}
		if c.names != "unset" && strings.HasPrefix(want, "result -") {
			// The second deliberate difference: whatever LISTEN_FDNAMES
			// holds, the fds end as they would without it.
			plain := runReference(t, ref, slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
				return strings.HasPrefix(kv, "LISTEN_FDNAMES=")
			}), files)
			if c.gap >= 0 && strings.HasPrefix(plain, "result -9\n") {
				plain = markedAfterGap(plain, c.fds, c.gap, c.pass)
			}
			want = withFlagsOf(want, plain)
		}
		got := runReference(t, refgo, env, files)
		if got != want {
			mismatches++
			t.Errorf("LISTEN_PID %q LISTEN_FDS %q LISTEN_FDNAMES %q with %d fds (closed: %d):\n-libsystemd\n%s+go-activation\n%s", c.pid, c.fds, c.names, c.pass, c.gap, want, got)
			if mismatches > 10 {
				t.Fatal("too many differences")
			}
		}
	}
	t.Logf("%d environments compared with libsystemd", len(cases))
	if quoted := readmeNumber(t, `on the same (\d+) environments`); quoted != len(cases) {
		t.Errorf("README.md says the comparison covers %d environments; it covers %d", quoted, len(cases))
	}
}

// markedAfterGap is libsystemd's report with the first deliberate
// difference: libsystemd stops marking fds close-on-exec at the first fd
// of the range that is not open, which leaves the inherited fds after it
// to every child; this package marks every open inherited fd of the
// range. report is libsystemd's, for LISTEN_FDS=fds with pass fds passed
// and the one at index gap closed.
func markedAfterGap(report, fds string, gap, pass int) string {
	n, err := strconv.Atoi(fds)
	if err != nil {
		return report
	}
	for i := gap + 1; i < pass && i < n; i++ {
		fd := firstFD + i
		report = strings.Replace(report, fmt.Sprintf("cloexec %d 0\n", fd), fmt.Sprintf("cloexec %d 1\n", fd), 1)
	}
	return report
}

// withFlagsOf is report with the close-on-exec lines of other: libsystemd
// reads LISTEN_FDNAMES first and returns at a malformed value without
// marking the fds, which leaves them to every child; this package marks
// them when LISTEN_PID and LISTEN_FDS are this process's and valid, as it
// does when the names are absent.
func withFlagsOf(report, other string) string {
	keep := func(s string, flags bool) []string {
		var lines []string
		for _, l := range strings.SplitAfter(s, "\n") {
			if strings.HasPrefix(l, "cloexec ") == flags {
				lines = append(lines, l)
			}
		}
		return lines
	}
	return strings.Join(append(keep(report, false), keep(other, true)...), "")
}

const firstFD = 3

func runReference(t *testing.T, prog string, env []string, files []*os.File) string {
	t.Helper()
	cmd := exec.Command(prog)
	cmd.Env = env
	cmd.ExtraFiles = files
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", prog, err, stderr.String())
	}
	return out.String()
}

// buildReferences compiles the C reference against libsystemd and the Go
// program that makes the same call of this package.
func buildReferences(t *testing.T) (ref, refgo string) {
	dir := t.TempDir()
	ref, refgo = filepath.Join(dir, "reference"), filepath.Join(dir, "refgo")
	gcc, err := exec.LookPath("gcc")
	if err == nil {
		var out []byte
		out, err = exec.Command(gcc, "-O2", "-Wall", "-o", ref, filepath.Join("testdata", "reference", "reference.c"), "-l:libsystemd.so.0").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
	}
	if err != nil {
		msg := "the libsystemd reference cannot be built (needs gcc and libsystemd.so.0, Debian packages gcc and libsystemd0): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command("go", "build", "-o", refgo, "./testdata/refgo").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./testdata/refgo: %v\n%s", err, out)
	}
	return ref, refgo
}
