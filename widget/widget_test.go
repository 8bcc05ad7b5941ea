package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWasmServedCompressed: the wasm goes out as brotli or gzip by
// Accept-Encoding, typed application/wasm, varying on Accept-Encoding.
func TestWasmServedCompressed(t *testing.T) {
	t.Parallel()
	a := assets["altyn.wasm"]
	tests := []struct {
		accept, enc string
		want        []byte
	}{
		{"gzip, deflate, br, zstd", "br", a.br},
		{"gzip", "gzip", a.gz},
		{"br;q=0, gzip", "gzip", a.gz},
		{"", "", a.raw},
		{"identity", "", a.raw},
	}
	for _, tt := range tests {
		r := get(t, Prefix+"altyn.wasm?v="+a.version, "Accept-Encoding", tt.accept)
		b := body(t, r)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != tt.enc || !bytes.Equal(b, tt.want) {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, %d bytes; want 200, %q, %d bytes",
				tt.accept, r.StatusCode, r.Header.Get("Content-Encoding"), len(b), tt.enc, len(tt.want))
		}
		if ct, v := r.Header.Get("Content-Type"), r.Header.Get("Vary"); ct != "application/wasm" || v != "Accept-Encoding" {
			t.Errorf("Content-Type %q, Vary %q; want application/wasm, Accept-Encoding", ct, v)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("versioned wasm Cache-Control %q, want immutable", cc)
		}
	}
	if len(a.br) == 0 || len(a.br) >= len(a.gz) || len(a.gz) >= len(a.raw) {
		t.Errorf("sizes raw %d, gzip %d, brotli %d: want brotli < gzip < raw", len(a.raw), len(a.gz), len(a.br))
	}
	// An unversioned URL is cached briefly; a matching ETag answers 304.
	r := get(t, Prefix+"altyn.wasm", "Accept-Encoding", "br")
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("unversioned Cache-Control %q", cc)
	}
	if r := get(t, Prefix+"altyn.wasm", "Accept-Encoding", "br", "If-None-Match", r.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", r.StatusCode)
	}
}

func TestTextAssets(t *testing.T) {
	t.Parallel()
	for name, ctype := range map[string]string{"altyn.js": "text/javascript; charset=utf-8", "form.css": "text/css; charset=utf-8"} {
		r := get(t, Prefix+name, "Accept-Encoding", "gzip")
		zr, err := gzip.NewReader(bytes.NewReader(body(t, r)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(zr)
		if !bytes.Equal(b, assets[name].raw) || r.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: gzip body differs or Content-Type %q", name, r.Header.Get("Content-Type"))
		}
		if r.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Errorf("%s: merchants' pages on other sites must be able to load it", name)
		}
	}
	for _, p := range []string{Prefix + "nothing.js", Prefix + "../widget.go", Prefix} {
		if r := get(t, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
	}
	req := httptest.NewRequest(http.MethodPost, Prefix+"altyn.js", nil)
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}

// TestFormPage: the form's inputs have no name attribute, carry
// autocomplete and labels, and the page is locked down by its CSP.
func TestFormPage(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"ru", "en"} {
		r := get(t, Prefix+"form?lang="+lang)
		html := string(body(t, r))
		if r.StatusCode != http.StatusOK || !strings.Contains(html, `<html lang="`+lang+`">`) {
			t.Fatalf("form?lang=%s: %d", lang, r.StatusCode)
		}
		inputs := regexp.MustCompile(`<input[^>]*>`).FindAllString(html, -1)
		if len(inputs) != 3 {
			t.Errorf("%d inputs, want number, expiry and CVV", len(inputs))
		}
		for _, in := range inputs {
			if strings.Contains(in, " name=") {
				t.Errorf("input with a name attribute: %s", in)
			}
			id := regexp.MustCompile(`id="([a-z]+)"`).FindStringSubmatch(in)
			if id == nil || !strings.Contains(html, `<label for="`+id[1]+`">`) || !strings.Contains(in, "autocomplete=\"cc-") {
				t.Errorf("input without a label or autocomplete: %s", in)
			}
		}
		if !strings.Contains(html, texts[lang]["Number"]) || !strings.Contains(html, texts[lang]["Pay"]) {
			t.Errorf("form?lang=%s lacks its texts", lang)
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
	}
	if got := string(body(t, get(t, Prefix+"form?lang=de"))); !strings.Contains(got, `lang="en"`) {
		t.Error("an unknown language should fall back to English")
	}
}

// TestFormInline: the form's script and style are in its page, allowed by
// the CSP by their hashes and not by 'unsafe-inline'; no other inline
// script runs.
func TestFormInline(t *testing.T) {
	t.Parallel()
	r := get(t, Prefix+"form?lang=en")
	html := string(body(t, r))
	csp := r.Header.Get("Content-Security-Policy")
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q allows any inline code", csp)
	}
	for _, tt := range []struct{ re, src string }{
		{`(?s)<script>(.*?)</script>`, "script-src 'self' 'wasm-unsafe-eval' "},
		{`(?s)<style>(.*?)</style>`, "style-src 'self' "},
	} {
		m := regexp.MustCompile(tt.re).FindAllStringSubmatch(html, -1)
		if len(m) != 1 {
			t.Fatalf("%d matches of %s in the form's page, want 1", len(m), tt.re)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if want := tt.src + "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"; !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if n := strings.Count(html, "<script"); n != 3 { // wasm_exec.js, the texts (JSON) and the form's script
		t.Errorf("%d script elements, want 3", n)
	}
	// With its script and style the page is worth compressing.
	gr := get(t, Prefix+"form?lang=en", "Accept-Encoding", "gzip, br")
	zr, err := gzip.NewReader(bytes.NewReader(body(t, gr)))
	if err != nil {
		t.Fatalf("form page with Accept-Encoding gzip: %v", err)
	}
	if b, _ := io.ReadAll(zr); string(b) != html || gr.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("the gzipped form page differs, or Vary %q", gr.Header.Get("Vary"))
	}
}

func TestLang(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"ru": "ru", "ru-RU": "ru", "RU_ru": "ru", "en-US": "en", "": "en", "kk": "en"} {
		if got := Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
	}
	if got := LangFromHeader("ru-RU,ru;q=0.9,en;q=0.8"); got != "ru" {
		t.Errorf("LangFromHeader = %q, want ru", got)
	}
	// Every text exists in both languages.
	for k := range texts["en"] {
		if _, ok := texts["ru"][k]; !ok {
			t.Errorf("text %q has no Russian", k)
		}
	}
	for k := range texts["ru"] {
		if _, ok := texts["en"][k]; !ok {
			t.Errorf("text %q has no English", k)
		}
	}
}

// TestWasmUpToDate: the committed altyn.wasm is what widget/wasm builds to
// (with this Go), like gen/ for the proto; its .br and .gz hold the same
// bytes. After changing widget/wasm, cardform or cryptogram, run
// go generate ./widget.
func TestWasmUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm")
	}
	if _, err := exec.LookPath("brotli"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the brotli command is needed (scripts/deps.sh installs it)")
		}
		t.Skip("the brotli command is not installed (apt-get install brotli); set CI=true to make this a failure")
	}
	out, err := exec.Command("go", "run", "./internal/build", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
