// Package widget is altyn's payment widget as the server serves it: the
// loader merchants include (altyn.js), the card form shown in an iframe or
// as the hosted invoice page, the hidden sealing frame of the checkout
// script, and the WebAssembly core they load (altyn.wasm, built from
// widget/wasm by go generate and committed with its brotli and gzip
// forms).
//
// Handler serves everything under Prefix; the server's other pages that
// show the form or its outcome (the hosted invoice page, the 3-D Secure
// return page, the demo shop) render this package's templates through
// RenderForm, RenderStatus, RenderThreeDSDone and RenderDemo.
package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:generate go run ./internal/build

// Prefix is where Handler is mounted.
const Prefix = "/widget/"

// ThreeDSPath is the TermUrl the widget's payments give the ACS: the page
// there completes the payment and tells the form (RenderThreeDSDone).
const ThreeDSPath = Prefix + "3ds"

//go:embed assets
var assetFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

// asset is one embedded file ready to serve.
type asset struct {
	ctype   string
	raw     []byte
	gz, br  []byte // precompressed forms, nil when not worth it
	version string // first hex digits of the SHA-256 of raw
}

var assets = loadAssets()

func loadAssets() map[string]*asset {
	out := map[string]*asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		if strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") {
			return nil // loaded with their raw file
		}
		raw, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		a := &asset{ctype: mime.TypeByExtension(path.Ext(name)), raw: raw, version: hex.EncodeToString(sum[:6])}
		switch path.Ext(name) {
		case ".wasm":
			a.ctype = "application/wasm"
			a.br, _ = assetFS.ReadFile(p + ".br")
			a.gz, _ = assetFS.ReadFile(p + ".gz")
		case ".js":
			a.ctype = "text/javascript; charset=utf-8"
			a.gz = gzipBytes(raw, gzip.BestCompression)
		case ".css":
			a.ctype = "text/css; charset=utf-8"
			a.gz = gzipBytes(raw, gzip.BestCompression)
		}
		out[name] = a
		return nil
	})
	if err != nil {
		panic("widget: embedded assets: " + err.Error())
	}
	return out
}

// gzipBytes compresses the small text assets (once at start) and pages;
// nil when that saves nothing.
func gzipBytes(b []byte, level int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, level)
	zw.Write(b)
	zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// assetURL is an asset's URL with its version, so it can be cached for good.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("widget: no asset " + name)
	}
	return Prefix + name + "?v=" + a.version
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"asset":     assetURL,
	"inlineJS":  func(name string) template.JS { return template.JS(inlineAsset(name)) },
	"inlineCSS": func(name string) template.CSS { return template.CSS(inlineAsset(name)) },
}).ParseFS(templateFS, "templates/*.html"))

// inlineAsset is a text asset put into a page rather than fetched, as the
// form's script and style are: two requests, and the tasks that handle
// them on the frame's main thread, fewer before the form is usable.
func inlineAsset(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("widget: no asset " + name)
	}
	return string(a.raw)
}

// cspHash is the CSP source that allows an inlined asset: its SHA-256.
func cspHash(name string) string {
	sum := sha256.Sum256([]byte(inlineAsset(name)))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Handler serves the widget under Prefix: the static files (precompressed
// when the browser accepts it), the form page (form?lang=ru|en) the loader
// frames and the checkout script's sealing page (seal).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		switch name {
		case "form":
			RenderForm(w, r, FormPage{Lang: Lang(r.URL.Query().Get("lang"))})
			return
		case "seal":
			render(w, r, http.StatusOK, "seal.html", nil, pageCSP, "public, max-age=300")
			return
		}
		a, ok := assets[name]
		if !ok || strings.HasSuffix(name, ".html") {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, a)
	})
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	body, enc := a.raw, ""
	accept := r.Header.Get("Accept-Encoding")
	switch {
	case a.br != nil && acceptsEncoding(accept, "br"):
		body, enc = a.br, "br"
	case a.gz != nil && acceptsEncoding(accept, "gzip"):
		body, enc = a.gz, "gzip"
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	// altyn.js is included by merchants' pages on other sites.
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("ETag", `"`+a.version+enc+`"`)
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// The loader's URL is fixed in merchants' pages: let a new
		// version reach them within minutes.
		h.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsEncoding reports whether an Accept-Encoding header allows enc
// (named, or "*", and not with q=0).
func acceptsEncoding(header, enc string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, enc) && name != "*" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			return false
		}
		return true
	}
	return false
}

// pageCSP keeps the form's page to altyn's own scripts and the bank's 3-D
// Secure page: no inline script, no other origin to send data to.
// 'wasm-unsafe-eval' lets it compile the WebAssembly core.
const pageCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self' https:; form-action 'self' https:; base-uri 'none'"

// formCSP is pageCSP that also allows the form's inlined script and style,
// by their hashes: still no other inline script.
var formCSP = strings.NewReplacer(
	"'wasm-unsafe-eval';", "'wasm-unsafe-eval' "+cspHash("form.js")+";",
	"style-src 'self';", "style-src 'self' "+cspHash("form.css")+";",
).Replace(pageCSP)

// FormPage is what the form's template needs.
type FormPage struct {
	Lang string // "ru" or "en"
	// Hosted is the invoice the hosted page pays; nil in the widget's
	// iframe, which learns the payment from the loader.
	Hosted *Hosted
}

// Hosted is an invoice shown on the hosted payment page.
type Hosted struct {
	ID           string `json:"invoice"` // "inv_…"
	PublicID     string `json:"publicId"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	InvoiceID    string `json:"invoiceId"` // the merchant's order number
	Description  string `json:"description"`
	TwoStage     bool   `json:"twoStage"`
	SuccessURL   string `json:"successUrl,omitempty"`
	FailURL      string `json:"failUrl,omitempty"`
	MerchantName string `json:"-"`
}

// RenderForm writes the card form: in the widget's iframe (page.Hosted nil,
// framable by any site) or as the hosted page of an invoice (not framable).
func RenderForm(w http.ResponseWriter, r *http.Request, page FormPage) {
	lang := Lang(page.Lang)
	if page.Hosted == nil {
		// The framed form is the same page for every payment of a
		// language: rendered and compressed once.
		framedForms()[lang].write(w, r, http.StatusOK, formCSP+"; frame-ancestors *", "public, max-age=300")
		return
	}
	b, _ := json.Marshal(page.Hosted)
	render(w, r, http.StatusOK, "form.html", formData(lang, page.Hosted, string(b)), formCSP+"; frame-ancestors 'none'", "no-store")
}

func formData(lang string, hosted *Hosted, config string) map[string]any {
	script, _ := json.Marshal(scriptTexts(lang))
	return map[string]any{"Lang": lang, "T": texts[lang], "Hosted": hosted, "Config": config, "Script": template.JS(script)}
}

// framedForms are the iframe's form page by language.
var framedForms = sync.OnceValue(func() map[string]page {
	out := map[string]page{}
	for lang := range texts {
		p, err := renderPage("form.html", formData(lang, nil, ""), gzip.BestCompression)
		if err != nil {
			panic("widget: form.html: " + err.Error())
		}
		out[lang] = p
	}
	return out
})

// StatusPage is an invoice that cannot be paid (any more).
type StatusPage struct {
	Lang        string
	Status      string // the invoice status, or "not_found"
	Merchant    string
	Description string
	BackURL     string // where "Return to the shop" goes, if anywhere
}

// RenderStatus writes the hosted page of an invoice that is paid, being
// paid, expired, cancelled or unknown.
func RenderStatus(w http.ResponseWriter, page StatusPage) {
	lang := Lang(page.Lang)
	key := map[string]string{"processed": "Paid", "processing": "Processing", "expired": "Expired", "cancelled": "Cancelled"}[page.Status]
	status := http.StatusOK
	if key == "" {
		key, status = "NotFound", http.StatusNotFound
	}
	render(w, nil, status, "status.html", map[string]any{
		"Lang": lang, "T": texts[lang], "Status": page.Status, "Message": texts[lang][key],
		"Merchant": page.Merchant, "Description": page.Description, "BackURL": page.BackURL,
	}, pageCSP+"; frame-ancestors 'none'", "no-store")
}

// RenderThreeDSDone writes the page the ACS returns the payer to inside the
// form's 3-D Secure frame: status is the payment's ("Completed",
// "Declined", … or "error"); its script tells the form, which then reads
// the payment's status from the API.
func RenderThreeDSDone(w http.ResponseWriter, httpStatus int, status, message string) {
	// Any ancestors: the form that frames it is itself framed by the
	// merchant's page, and frame-ancestors checks every ancestor.
	render(w, nil, httpStatus, "threeds.html", map[string]any{"Status": status, "Message": message},
		pageCSP+"; frame-ancestors *", "no-store")
}

// RenderDemo writes the demo shop of a merchant (its public id).
func RenderDemo(w http.ResponseWriter, publicID string) {
	render(w, nil, http.StatusOK, "demo.html", map[string]any{"PublicID": publicID},
		"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; base-uri 'none'",
		"no-store")
}

// render executes a template into a buffer first, so an error never sends
// half a page. The page is gzipped when r (if any) accepts it: the form's
// page holds its script and style.
func render(w http.ResponseWriter, r *http.Request, status int, name string, data any, csp, cache string) {
	p, err := renderPage(name, data, gzip.BestSpeed)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.write(w, r, status, csp, cache)
}

// page is a rendered HTML page and its gzip form (nil when that saves
// nothing).
type page struct{ html, gz []byte }

func renderPage(name string, data any, level int) (page, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return page{}, err
	}
	return page{html: b.Bytes(), gz: gzipBytes(b.Bytes(), level)}, nil
}

// write sends the page, gzipped if r accepts it (r nil: never).
func (p page) write(w http.ResponseWriter, r *http.Request, status int, csp, cache string) {
	h := w.Header()
	body := p.html
	if r != nil {
		h.Set("Vary", "Accept-Encoding")
		if p.gz != nil && acceptsEncoding(r.Header.Get("Accept-Encoding"), "gzip") {
			body = p.gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(body)
}
