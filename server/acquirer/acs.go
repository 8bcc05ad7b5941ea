package acquirer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"

	"github.com/altynpay/altyn/server/money"
)

// maxMDLen bounds the MD the ACS echoes back.
const maxMDLen = 1024

// returnScript submits the return form. The page's Content-Security-Policy
// allows exactly this script by its hash.
const returnScript = `document.getElementById("return").submit();`

const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>altyn sandbox 3-D Secure</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1rem;background:#f4f4f4;color:#111}
main{max-width:28rem;margin:2rem auto;background:#fff;border:1px solid #ccc;border-radius:.5rem;padding:1.5rem}
h1{font-size:1.25rem;margin-top:0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{font-weight:600}
dd{margin:0}
fieldset{border:0;padding:0;margin:1rem 0 0}
legend{font-weight:600;margin-bottom:.5rem}
button{font:inherit;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:.3rem;border:2px solid #1a4d8f;cursor:pointer}
button[value=confirm]{background:#1a4d8f;color:#fff}
button[value=fail]{background:#fff;color:#8f1a1a;border-color:#8f1a1a}
button:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.note{font-size:.875rem;color:#444}
</style>
</head>
<body>
<main>
<h1>altyn sandbox 3-D Secure</h1>
`

const pageFoot = `</main>
</body>
</html>
`

var (
	challengePage = template.Must(template.New("challenge").Parse(pageHead + `<p class="note">This is altyn's test-mode authentication page. No bank is involved and no money moves.</p>
<dl>
<dt>Amount</dt><dd>{{.Amount}}</dd>
<dt>Card</dt><dd>{{.Brand}} {{.Mask}}</dd>
</dl>
<form method="post"{{with .Action}} action="{{.}}"{{end}}>
<input type="hidden" name="PaReq" value="{{.PaReq}}">
<input type="hidden" name="MD" value="{{.MD}}">
<input type="hidden" name="TermUrl" value="{{.TermURL}}">
<fieldset>
<legend>Result of authentication</legend>
<button type="submit" name="choice" value="confirm">Confirm</button>
<button type="submit" name="choice" value="fail">Fail</button>
</fieldset>
</form>
` + pageFoot))

	returnPage = template.Must(template.New("return").Parse(pageHead + `<form id="return" method="post" action="{{.TermURL}}">
<input type="hidden" name="MD" value="{{.MD}}">
<input type="hidden" name="PaRes" value="{{.PaRes}}">
<p role="status">Authentication {{if .Confirmed}}confirmed{{else}}failed{{end}}. Returning to the shop…</p>
<button type="submit">Continue</button>
</form>
<script>` + returnScript + `</script>
` + pageFoot))

	errorPage = template.Must(template.New("error").Parse(pageHead + `<p role="alert">{{.}}</p>
` + pageFoot))

	pageCSP = func() string {
		h := sha256.Sum256([]byte(returnScript))
		return "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
			base64.StdEncoding.EncodeToString(h[:]) + "'; form-action 'self' http: https:; base-uri 'none'"
	}()
)

// Handler serves the sandbox's 3-D Secure ACS page at ACSBaseURL.
//
// A GET with the query, or a POST with the form, PaReq, MD and TermUrl shows
// the page "altyn sandbox 3-D Secure": the amount and card mask from the
// PaReq and the buttons Confirm and Fail. Pressing one POSTs back here with
// choice=confirm or choice=fail, and the answer is a page that posts MD and
// the PaRes to TermUrl by itself (a visible Continue button does it when
// scripts are off). With format=json (query or form) that POST answers
// {"MD": …, "PaRes": …} instead, so tests can complete 3-D Secure without a
// browser. TermUrl defaults to AuthorizeRequest.TermURL, carried in the
// PaReq; it must be an absolute http or https URL.
func (s *Sandbox) Handler() http.Handler {
	return http.HandlerFunc(s.serveACS)
}

func (s *Sandbox) serveACS(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		acsError(w, false, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		acsError(w, false, http.StatusBadRequest, "The request could not be read.")
		return
	}
	asJSON := r.Form.Get("format") == "json"
	c, err := s.parseToken(kindPaReq, r.Form.Get("PaReq"))
	if err != nil {
		acsError(w, asJSON, http.StatusBadRequest, "The 3-D Secure request (PaReq) is missing or invalid.")
		return
	}
	if c.expired(s.now()) {
		acsError(w, asJSON, http.StatusBadRequest, "The 3-D Secure request (PaReq) has expired.")
		return
	}
	md := r.Form.Get("MD")
	if len(md) > maxMDLen {
		acsError(w, asJSON, http.StatusBadRequest, "MD is too long.")
		return
	}
	termURL := r.Form.Get("TermUrl")
	if termURL == "" {
		termURL = c.TermURL
	}
	if !validTermURL(termURL) {
		acsError(w, asJSON, http.StatusBadRequest, "TermUrl must be an absolute http or https URL.")
		return
	}

	choice := ""
	if r.Method == http.MethodPost {
		choice = r.PostForm.Get("choice")
	}
	if choice == "" {
		renderPage(w, http.StatusOK, challengePage, struct {
			Amount, Brand, Mask, Action, PaReq, MD, TermURL string
		}{
			Amount:  money.Decimal(c.Amount, c.Currency) + " " + c.Currency,
			Brand:   c.Brand,
			Mask:    c.Mask,
			Action:  s.acsURL,
			PaReq:   r.Form.Get("PaReq"),
			MD:      md,
			TermURL: termURL,
		})
		return
	}
	if choice != "confirm" && choice != "fail" {
		acsError(w, asJSON, http.StatusBadRequest, "Choose Confirm or Fail.")
		return
	}
	confirmed := choice == "confirm"
	paRes := s.issuePaRes(c, confirmed)
	if asJSON {
		writeJSON(w, http.StatusOK, struct {
			MD    string `json:"MD"`
			PaRes string `json:"PaRes"`
		}{md, paRes})
		return
	}
	renderPage(w, http.StatusOK, returnPage, struct {
		TermURL, MD, PaRes string
		Confirmed          bool
	}{termURL, md, paRes, confirmed})
}

// validTermURL reports whether u is an absolute http or https URL.
func validTermURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// renderPage writes an HTML page. Pages are rendered to a buffer first, so
// a template error never sends half a page.
func renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	noStore(h)
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	noStore(h)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// noStore keeps the ACS's answers out of caches and referrers: they carry
// signed PaReq and PaRes tokens.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// acsError answers a request the ACS cannot serve. The message is a fixed
// sentence: nothing from the request is echoed.
func acsError(w http.ResponseWriter, asJSON bool, status int, msg string) {
	if asJSON {
		writeJSON(w, status, struct {
			Error string `json:"error"`
		}{msg})
		return
	}
	renderPage(w, status, errorPage, msg)
}
