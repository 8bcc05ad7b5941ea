// Command build makes the widget's WebAssembly core and its compressed
// forms, the files package widget embeds and serves:
//
//	widget/assets/altyn.wasm      GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" ./widget/wasm
//	widget/assets/altyn.wasm.br   brotli -q 11 (Debian's brotli package)
//	widget/assets/altyn.wasm.gz   gzip -9 (compress/gzip)
//	widget/assets/wasm_exec.js    a copy of $(go env GOROOT)/lib/wasm/wasm_exec.js
//
// Run it with go generate ./widget (or make widget). The build is
// reproducible for a given Go version, so the committed altyn.wasm must be
// byte for byte what this command makes; with -check it makes the files in
// a temporary folder and fails if the committed wasm or wasm_exec.js
// differ, or if the committed .br or .gz do not decompress to the committed
// wasm (the compressors' exact bytes may vary between their versions, so
// those are checked by content, not compared).
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	check := flag.Bool("check", false, "do not write: fail if the committed files are not what this command makes")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "widget build:", err)
		os.Exit(1)
	}
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func run(check bool) error {
	gomod, err := goEnv("GOMOD")
	if err != nil {
		return err
	}
	root := filepath.Dir(gomod)
	assets := filepath.Join(root, "widget", "assets")
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return err
	}
	execJS, err := os.ReadFile(filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "altyn-widget-build")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	wasmPath := filepath.Join(tmp, "altyn.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", wasmPath, "./widget/wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./widget/wasm: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	version, _ := goEnv("GOVERSION")

	if check {
		var problems []string
		if old, err := os.ReadFile(filepath.Join(assets, "altyn.wasm")); err != nil || !bytes.Equal(old, wasm) {
			problems = append(problems, "widget/assets/altyn.wasm is not what widget/wasm builds to with "+version)
		}
		if old, err := os.ReadFile(filepath.Join(assets, "wasm_exec.js")); err != nil || !bytes.Equal(old, execJS) {
			problems = append(problems, "widget/assets/wasm_exec.js is not "+version+"'s lib/wasm/wasm_exec.js")
		}
		committed, _ := os.ReadFile(filepath.Join(assets, "altyn.wasm"))
		if gz, err := gunzipFile(filepath.Join(assets, "altyn.wasm.gz")); err != nil || !bytes.Equal(gz, committed) {
			problems = append(problems, "widget/assets/altyn.wasm.gz does not decompress to altyn.wasm")
		}
		if br, err := unbrotliFile(filepath.Join(assets, "altyn.wasm.br")); err != nil {
			problems = append(problems, "widget/assets/altyn.wasm.br: "+err.Error())
		} else if !bytes.Equal(br, committed) {
			problems = append(problems, "widget/assets/altyn.wasm.br does not decompress to altyn.wasm")
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "\n") + "\nrun: go generate ./widget")
		}
		return nil
	}

	br, err := brotli(wasmPath)
	if err != nil {
		return err
	}
	gz, err := gzipBytes(wasm)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"altyn.wasm": wasm, "altyn.wasm.br": br, "altyn.wasm.gz": gz, "wasm_exec.js": execJS} {
		if err := os.WriteFile(filepath.Join(assets, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("widget/assets/altyn.wasm: %d bytes raw, %d brotli, %d gzip (%s)\n", len(wasm), len(br), len(gz), version)
	return nil
}

// brotli compresses with the brotli command at its best quality.
func brotli(path string) ([]byte, error) {
	if _, err := exec.LookPath("brotli"); err != nil {
		return nil, errors.New("the brotli command is needed (apt-get install brotli; scripts/deps.sh installs it)")
	}
	out, err := exec.Command("brotli", "-q", "11", "-c", path).Output()
	if err != nil {
		return nil, fmt.Errorf("brotli: %w", err)
	}
	return out, nil
}

func unbrotliFile(path string) ([]byte, error) {
	if _, err := exec.LookPath("brotli"); err != nil {
		return nil, errors.New("the brotli command is needed to check it (apt-get install brotli)")
	}
	out, err := exec.Command("brotli", "-d", "-c", path).Output()
	if err != nil {
		return nil, fmt.Errorf("brotli -d: %w", err)
	}
	return out, nil
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gunzipFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
