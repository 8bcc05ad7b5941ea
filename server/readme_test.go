package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// readmeBlock is a code block of README.md marked <!-- readme-test… -->.
type readmeBlock struct {
	lang, arg, code string
}

var blockRE = regexp.MustCompile("(?s)<!-- readme-test:? ?([^>]*?) ?-->\n```(\\w+)\n(.*?)```")

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	for _, m := range blockRE.FindAllStringSubmatch(string(b), -1) {
		out = append(out, readmeBlock{arg: m[1], lang: m[2], code: m[3]})
	}
	return out
}

// TestREADME runs README.md's examples against a real server: the shell
// blocks with curl, grpcurl and jq, the Go block as the example program it
// must be a copy of. Each "# → X" line in a shell block is an output line
// the block must print, in order.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the README's commands")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/deps.sh installs it)", tool)
		}
	}
	env := apptest.New(t)
	blocks := readmeBlocks(t)
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d tested blocks, want the curl, grpcurl and Go examples", len(blocks))
	}
	var script strings.Builder
	var want []string
	for _, b := range blocks {
		switch b.lang {
		case "sh":
			for _, line := range strings.Split(b.code, "\n") {
				if strings.HasPrefix(line, "export ALTYN=") {
					continue // the placeholders; the test sets the real values
				}
				if v, ok := strings.CutPrefix(line, "# → "); ok {
					want = append(want, v)
				}
				script.WriteString(line + "\n")
			}
		case "go":
			src, err := os.ReadFile(filepath.Join("..", b.arg))
			if err != nil {
				t.Fatal(err)
			}
			if string(src) != b.code {
				t.Errorf("the Go example in README.md differs from %s: copy the file into the README", b.arg)
			}
		}
	}
	bin := grpcurl(t)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script.String())
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "ALTYN="+env.URL, "PK="+env.Merchant.PublicID, "SK="+env.Secret,
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("README shell blocks failed: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README shell blocks printed\n%s\nwant (the # → lines)\n%s", out, strings.Join(want, "\n"))
	}

	run := exec.Command("go", "run", "./examples/goclient")
	run.Dir = ".."
	run.Env = append(os.Environ(), "ALTYN_URL="+env.URL, "ALTYN_PUBLIC_ID="+env.Merchant.PublicID, "ALTYN_SECRET="+env.Secret)
	out, err = run.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/goclient: %v\n%s", err, out)
	}
	for _, line := range []string{"PAYMENT_STATUS_AUTHORIZED", "capture: PAYMENT_STATUS_COMPLETED 120000", "refund: true 20000"} {
		if !strings.Contains(string(out), line) {
			t.Errorf("goclient printed\n%s\nwant a line with %q", out, line)
		}
	}
}

// grpcurl finds grpcurl on PATH or installs the pinned version into the
// user's cache (go install does not touch go.mod).
func grpcurl(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "altyn", "bin")
	bin := filepath.Join(dir, "grpcurl")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	install := exec.Command("go", "install", "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4")
	install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install grpcurl: %v\n%s", err, out)
	}
	return bin
}
