// Command wasmsize measures what package cryptogram adds to a js/wasm
// binary. It builds the minimal syscall/js programs in testdata/ for
// GOOS=js GOARCH=wasm and prints their raw, gzip -9 and brotli -q 11 sizes
// as a Markdown table:
//
//   - base: the Go runtime and syscall/js, one function exported to JS;
//   - hpke: base plus one X-Wing seal with crypto/hpke;
//   - cryptogram: base plus ParsePublicKey, ParseCard and Seal;
//   - json: cryptogram plus encoding/json marshalling of the card, i.e. the
//     cost a JSON payload encoding would have added.
//
// Run it from anywhere in the module:
//
//	go run ./cryptogram/internal/wasmsize [-ldflags='-s -w']
//
// brotli sizes need the brotli command (apt-get install brotli); without it
// that column reads n/a.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

var variants = []string{"base", "hpke", "cryptogram", "json"}

type sizes struct{ raw, gz, br int }

func main() {
	ldflags := flag.String("ldflags", "", "passed to go build")
	flag.Parse()
	if err := run(*ldflags); err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

func run(ldflags string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	src := filepath.Join(root, "cryptogram", "internal", "wasmsize", "testdata")
	tmp, err := os.MkdirTemp("", "wasmsize")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	_, brErr := exec.LookPath("brotli")

	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()
	fmt.Printf("%s, GOOS=js GOARCH=wasm, -ldflags=%q, host %s/%s, %d CPUs\n\n",
		strings.TrimSpace(string(goVersion)), ldflags, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Println("| program | raw | gzip -9 | brotli -q 11 | added to base: raw | gzip | brotli |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	var base sizes
	for _, v := range variants {
		out := filepath.Join(tmp, v+".wasm")
		args := []string{"build", "-trimpath", "-o", out}
		if ldflags != "" {
			args = append(args, "-ldflags="+ldflags)
		}
		args = append(args, filepath.Join(src, v, "main.go"))
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", v, err, b)
		}
		s, err := measure(out, brErr == nil)
		if err != nil {
			return err
		}
		if v == "base" {
			base = s
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", v, kb(s.raw), kb(s.gz), kb(s.br),
			delta(s.raw-base.raw, true), delta(s.gz-base.gz, true), delta(s.br-base.br, s.br >= 0 && base.br >= 0))
	}
	return nil
}

func measure(path string, brotli bool) (sizes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return sizes{}, err
	}
	s := sizes{raw: len(b), br: -1}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		return sizes{}, err
	}
	s.gz = gz.Len()
	if brotli {
		out, err := exec.Command("brotli", "-q", "11", "-c", path).Output()
		if err != nil {
			return sizes{}, fmt.Errorf("brotli: %w", err)
		}
		s.br = len(out)
	}
	return s, nil
}

func kb(n int) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1000)
}

func delta(n int, ok bool) string {
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f KB", float64(n)/1000)
}
