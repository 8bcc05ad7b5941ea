package browsertest

import (
	"context"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// artifacts is where the screenshots go (gitignored).
const artifacts = "../testdata/artifacts"

// chromium finds the browser: $ALTYN_CHROMIUM, Debian's binary, or
// chromium on PATH. Without one the test skips, or fails when CI is set.
func chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ALTYN_CHROMIUM"), "/usr/lib/chromium/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: the widget's browser tests must run (apt-get install chromium; scripts/deps.sh installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or set ALTYN_CHROMIUM); set CI=true to make this a failure")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile in the test's
// temporary folder, stopped at the test's end, and returns a tab.
//
// Site isolation is turned off so that the widget's cross-origin iframes
// run in the page's process: the test can then reach their elements and
// see their network requests from one DevTools session. This changes
// nothing the tests check: the same-origin policy still keeps the
// merchant's page out of the iframes (TestMerchantPageCannotReadForm).
func newBrowser(t testing.TB, width, height int) context.Context {
	t.Helper()
	path := chromium(t)
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("TMPDIR="+dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "Translate,SitePerProcess,IsolateOrigins"),
		chromedp.Flag("disable-site-isolation-trials", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// netlog records every request the tab sends, from the merchant's page and
// every frame in it, with its body.
type netlog struct {
	mu   sync.Mutex
	reqs []request
}

type request struct {
	Method, URL, Body string
}

func recordNetwork(ctx context.Context) *netlog {
	l := &netlog{}
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			var body strings.Builder
			for _, e := range ev.Request.PostDataEntries {
				body.Write(e.Bytes)
			}
			if ev.Request.HasPostData && body.Len() == 0 {
				if res, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: ev.RequestID}); err == nil {
					body.Write(res.PostData)
				}
			}
			l.mu.Lock()
			l.reqs = append(l.reqs, request{Method: ev.Request.Method, URL: ev.Request.URL + ev.Request.URLFragment, Body: body.String()})
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *netlog) all() []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]request(nil), l.reqs...)
}

// count is how many requests so far had a URL containing s.
func (l *netlog) count(s string) int {
	n := 0
	for _, r := range l.all() {
		if strings.Contains(r.URL, s) {
			n++
		}
	}
	return n
}

// assertNoPAN fails if any request carried the card number, with or
// without spaces, in its URL or body.
func (l *netlog) assertNoPAN(t *testing.T, pan string) {
	t.Helper()
	reqs := l.all()
	if len(reqs) == 0 {
		t.Fatal("the network log is empty: the recorder saw nothing")
	}
	forms := []string{pan, groups(pan, " "), groups(pan, "+"), groups(pan, "%20"), groups(pan, "-")}
	for _, r := range reqs {
		for _, f := range forms {
			text, _ := url.QueryUnescape(r.URL)
			if strings.Contains(r.URL, f) || strings.Contains(text, f) || strings.Contains(r.Body, f) {
				t.Errorf("%s %s carries the card number (%q)", r.Method, r.URL, f)
			}
		}
	}
}

func groups(pan, sep string) string {
	var b strings.Builder
	for i := 0; i < len(pan); i += 4 {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(pan[i:min(i+4, len(pan))])
	}
	return b.String()
}

// shopPage is a merchant's page on another origin than altyn: it includes
// the loader with one script tag and pays through window.shop.
var shopPage = template.Must(template.New("shop").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test shop</title>
<script src="{{.Altyn}}/widget/altyn.js"></script>
<style>body{font:16px system-ui,sans-serif;margin:2rem}</style>
</head><body>
<h1>Test shop</h1>
<p>Order 42: a teapot.</p>
<form id="own" onsubmit="return false">
  <label>Card <input id="cn" autocomplete="off"></label>
  <label>Month <input id="mm" autocomplete="off"></label>
  <label>Year <input id="yy" autocomplete="off"></label>
  <label>CVV <input id="cvv" autocomplete="off"></label>
</form>
<script>
window.results = [];
window.shop = {
  open: function (kind, options) {
    var w = new altyn.Widget({language: options.language || 'en'});
    window.lastWidget = w;
    w[kind](options,
      function (o, r) { results.push({ok: true, result: r}); },
      function (reason, o, r) { results.push({ok: false, reason: reason, result: r || null}); });
  },
  start: function (options) {
    return new altyn.Widget({language: 'en'}).start(options).then(function (r) { results.push({start: r}); });
  },
  cryptogram: function (card) {
    return new altyn.Checkout({publicId: {{.PublicID}}}).createPaymentCryptogram(card).then(
      function (c) { return {cryptogram: c}; },
      function (e) { return {error: e instanceof Error ? {message: e.message} : e}; });
  },
  ownForm: function () {
    return shop.cryptogram({cardNumber: document.getElementById('cn').value, expDateMonth: document.getElementById('mm').value,
      expDateYear: document.getElementById('yy').value, cvv: document.getElementById('cvv').value});
  }
};
{{if .Open}}shop.open('charge', {{.Open}});{{end}}
{{if .Checkout}}shop.cryptogram({cardNumber: '4000000000003055', expDateMonth: '12', expDateYear: '30', cvv: '123'}).then(function (r) {
  window.checkoutDone = performance.now(); window.checkoutResult = r; });{{end}}
</script>
</body></html>`))

// merchantServer serves the shop's page at http://localhost:PORT/, another
// origin (and site) than altyn's http://127.0.0.1:PORT. With ?open=1 the
// page opens the widget with open's options as it loads; with ?checkout=1
// it makes a cryptogram with the checkout script as it loads.
func merchantServer(t testing.TB, env *apptest.Env, open map[string]any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		data := map[string]any{"Altyn": env.URL, "PublicID": env.Merchant.PublicID, "Open": nil,
			"Checkout": r.URL.Query().Get("checkout") != ""}
		if open != nil && r.URL.Query().Get("open") != "" {
			data["Open"] = open
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := shopPage.Execute(w, data); err != nil {
			t.Errorf("shop page: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "http://localhost:" + port + "/"
}

// tab is one browser tab on the merchant's page.
type tab struct {
	t    *testing.T
	ctx  context.Context
	env  *apptest.Env
	net  *netlog
	shop string
}

// newTab starts altyn, the merchant's server and a browser of the given
// size, and opens the merchant's page.
func newTab(t *testing.T, width, height int, opt ...apptest.Option) *tab {
	t.Helper()
	env := apptest.New(t, opt...)
	ctx := newBrowser(t, width, height)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, env: env, net: recordNetwork(ctx), shop: merchantServer(t, env, nil)}
	tb.do(chromedp.Navigate(tb.shop), chromedp.WaitReady(chromedp.CSS("body")))
	return tb
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatal(err)
	}
}

// eval runs JavaScript in the merchant's page and decodes its result.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// payment is the classic options of the test order, in major units.
func (tb *tab) payment(extra map[string]any) map[string]any {
	o := map[string]any{
		"publicId": tb.env.Merchant.PublicID, "description": "Order 42: a teapot", "amount": 1500.5,
		"currency": "RUB", "invoiceId": "order-42", "accountId": "user-42", "email": "payer@example.com",
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// open calls the widget on the merchant's page and returns the form's
// iframe once the form shows the payment.
func (tb *tab) open(kind string, options map[string]any) *chromedp.Node {
	tb.t.Helper()
	b, _ := json.Marshal(options)
	eval[chromedp.Void](tb, "shop.open("+jsString(kind)+", "+string(b)+")")
	return tb.frame()
}

// frame finds the form's iframe and waits until the form shows an amount.
func (tb *tab) frame() *chromedp.Node {
	tb.t.Helper()
	// Query the iframe only once its document is the form: a node taken
	// earlier keeps pointing at the iframe's first, empty document.
	tb.do(chromedp.WaitReady(chromedp.CSS(`iframe[data-altyn="form"][data-state="ready"]`)))
	nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS(`iframe[data-altyn="form"]`)))
	if err != nil || len(nodes) == 0 {
		tb.t.Fatalf("the widget's iframe: %v", err)
	}
	f := nodes[0]
	tb.do(chromedp.WaitVisible(chromedp.CSS("#number"), chromedp.FromNode(f)))
	tb.poll(f, "#amount", func(s string) bool { return s != "" })
	return f
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// poll waits until the text of sel in the frame (or the page, for a nil
// frame) satisfies ok, and returns it with no-break spaces as spaces.
func (tb *tab) poll(frame *chromedp.Node, sel string, ok func(string) bool) string {
	tb.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		opts := []chromedp.QueryOption{}
		if frame != nil {
			opts = append(opts, chromedp.FromNode(frame))
		}
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel), opts...))
		cancel()
		if err == nil {
			// Intl's amounts hold no-break spaces.
			s = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s)
			last = s
			if ok(s) {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("%s: text %q never became what the test waits for", sel, last)
	return ""
}

// typeCard types the card into the form, key by key.
func (tb *tab) typeCard(frame *chromedp.Node, number, expiry, cvv string) {
	tb.t.Helper()
	in := chromedp.FromNode(frame)
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#number"), number, in),
		chromedp.SendKeys(chromedp.CSS("#expiry"), expiry, in),
		chromedp.SendKeys(chromedp.CSS("#cvv"), cvv, in),
	)
}

func (tb *tab) value(frame *chromedp.Node, sel string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.CSS(sel), chromedp.FromNode(frame)))
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

func (tb *tab) click(frame *chromedp.Node, sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel), chromedp.FromNode(frame)))
}

// screenshot saves the tab as it looks to widget/testdata/artifacts/.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	b, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, name+".png"), b, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// shopResult waits for the widget's callback on the merchant's page.
type shopResult struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
	Result struct {
		Success       bool   `json:"success"`
		PaymentID     string `json:"paymentId"`
		TransactionID int64  `json:"transactionId"`
		Status        string `json:"status"`
		ReasonCode    int    `json:"reasonCode"`
		CardMask      string `json:"cardMask"`
	} `json:"result"`
}

func (tb *tab) result() shopResult {
	tb.t.Helper()
	raw, err := chromedp.Run(tb.ctx, chromedp.Poll[[]byte](`window.results.length > 0 && window.results[0]`, chromedp.WithPollingTimeout(45*time.Second)))
	if err != nil {
		tb.t.Fatalf("the shop's callback never came: %v", err)
	}
	var r shopResult
	if err := json.Unmarshal(raw, &r); err != nil {
		tb.t.Fatalf("shop result %s: %v", raw, err)
	}
	return r
}

// paymentStatus reads a payment's status from the database.
func (tb *tab) paymentStatus(id string) (status string, amount int64) {
	tb.t.Helper()
	err := tb.env.App.Store.Pool().QueryRow(context.Background(),
		`SELECT status, amount FROM payments WHERE id = $1 AND merchant_id = $2`, id, tb.env.Merchant.ID).Scan(&status, &amount)
	if err != nil {
		tb.t.Fatalf("payment %s in the database: %v", id, err)
	}
	return status, amount
}
