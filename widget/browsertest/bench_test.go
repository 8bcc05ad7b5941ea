package browsertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/altynpay/altyn/server/apptest"
)

// BenchmarkWidget prints the figures of docs/widget.md: the wasm's size
// raw, gzip and brotli and what a page load actually transfers, and the
// median times in headless Chromium over ALTYN_BENCH_LOADS (default 15)
// cold page loads of a merchant's page that opens the widget as it loads.
// Run it with
//
//	go test -run '^$' -bench Widget -benchtime 1x ./widget/browsertest/
//
// Each load uses a new browser context, so nothing comes from the cache.
// A robot types the card as soon as the form is interactive and presses
// Pay: "navigation → cryptogram" thus includes its typing (≈ 0.1 s).
// The checkout script's figure is a page that asks for a cryptogram as it
// loads, with no typing at all. ALTYN_BENCH_DEBUG=1 prints each load's
// milestones and the form frame's resource timings.
func BenchmarkWidget(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run measures ALTYN_BENCH_LOADS page loads; use -benchtime 1x")
	}
	loads := 15
	if n, err := strconv.Atoi(os.Getenv("ALTYN_BENCH_LOADS")); err == nil && n > 0 {
		loads = n
	}
	env := apptest.New(b)
	shop := merchantServer(b, env, map[string]any{
		"publicId": env.Merchant.PublicID, "amount": 1500, "currency": "RUB", "description": "Benchmark order", "language": "en",
	})
	browser := newBrowser(b, 1024, 768)

	raw, _ := os.ReadFile("../assets/altyn.wasm")
	br, _ := os.ReadFile("../assets/altyn.wasm.br")
	gz, _ := os.ReadFile("../assets/altyn.wasm.gz")

	var samples []loadSample
	for i := range loads {
		s, err := measureLoad(browser, env, shop)
		if err != nil {
			b.Fatalf("load %d: %v", i, err)
		}
		samples = append(samples, s)
	}
	var checkout []float64
	for i := range loads {
		ms, err := measureCheckout(browser, shop)
		if err != nil {
			b.Fatalf("checkout load %d: %v", i, err)
		}
		checkout = append(checkout, ms)
	}

	col := func(f func(loadSample) float64) []float64 {
		var out []float64
		for _, s := range samples {
			out = append(out, f(s))
		}
		return out
	}
	textBytes := textAssetSizes()
	version, _ := exec.Command("go", "env", "GOVERSION").Output()
	chrome, _ := exec.Command(chromium(b), "--version").Output()
	fmt.Printf("\n%s, %s/%s, %d CPUs; %s; %d cold loads each\n\n", strings.TrimSpace(string(version)), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), strings.TrimSpace(string(chrome)), loads)
	fmt.Println("| altyn.wasm | bytes | KB |")
	fmt.Println("|---|---:|---:|")
	for _, r := range []struct {
		name string
		n    int
	}{{"raw", len(raw)}, {"gzip -9", len(gz)}, {"brotli -q 11", len(br)}} {
		fmt.Printf("| %s | %d | %.1f |\n", r.name, r.n, float64(r.n)/1024)
	}
	fmt.Printf("| transferred (Chromium, Accept-Encoding br; body + headers) | %.0f | %.1f |\n", median(col(func(s loadSample) float64 { return s.wasmBytes })), median(col(func(s loadSample) float64 { return s.wasmBytes }))/1024)
	fmt.Printf("| everything from altyn for one payment (loader, form, CSS, JS, wasm, API) | %.0f | %.1f |\n", median(col(func(s loadSample) float64 { return s.altynBytes })), median(col(func(s loadSample) float64 { return s.altynBytes }))/1024)
	fmt.Printf("\ntext assets (raw / gzip bytes): %s\n\n", textBytes)
	fmt.Println("| median over the loads | ms |")
	fmt.Println("|---|---:|")
	rows := []struct {
		name string
		v    []float64
	}{
		{"navigation → form interactive", col(func(s loadSample) float64 { return s.T["interactive"] })},
		{"navigation → wasm ready (Go running)", col(func(s loadSample) float64 { return s.T["wasmReady"] })},
		{"navigation → merchant's key fetched (can seal)", col(func(s loadSample) float64 { return s.T["keyReady"] })},
		{"navigation → cryptogram made (robot types as soon as the form is interactive)", col(func(s loadSample) float64 { return s.T["cryptogram"] })},
		{"Pay pressed → cryptogram made", col(func(s loadSample) float64 { return s.T["cryptogram"] - s.T["pressed"] })},
		{"seal in the browser (ParseCard + HPKE seal)", col(func(s loadSample) float64 { return s.T["sealMs"] })},
		{"checkout script: navigation → cryptogram (asked for at page load)", checkout},
	}
	for _, r := range rows {
		fmt.Printf("| %s | %.1f |\n", r.name, median(r.v))
	}
	fmt.Println()
	b.ReportMetric(median(rows[0].v), "ms-interactive")
	b.ReportMetric(median(rows[1].v), "ms-wasm-ready")
	b.ReportMetric(median(rows[4].v), "ms-press-to-cryptogram")
	b.ReportMetric(median(rows[5].v), "ms-seal")
	b.ReportMetric(median(col(func(s loadSample) float64 { return s.wasmBytes })), "wasm-bytes-transferred")
}

type loadSample struct {
	T          map[string]float64 // the widget's timings, ms since the merchant page's navigation
	wasmBytes  float64
	altynBytes float64
}

// transfers sums the bytes received per URL in a tab.
type transfers struct {
	mu    sync.Mutex
	urls  map[network.RequestID]string
	bytes map[string]float64
}

func recordTransfers(ctx context.Context) *transfers {
	tr := &transfers{urls: map[network.RequestID]string{}, bytes: map[string]float64{}}
	responses := chromedp.Events(ctx, network.ResponseReceived)
	finished := chromedp.Events(ctx, network.LoadingFinished)
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			tr.mu.Lock()
			tr.urls[ev.RequestID] = ev.Response.URL
			tr.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range finished {
			if err != nil {
				return
			}
			tr.mu.Lock()
			tr.bytes[string(ev.RequestID)] = ev.EncodedDataLength
			tr.mu.Unlock()
		}
	}()
	return tr
}

func (tr *transfers) sum(match func(url string) bool) float64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	total := 0.0
	for id, n := range tr.bytes {
		if match(tr.urls[network.RequestID(id)]) {
			total += n
		}
	}
	return total
}

func measureLoad(browser context.Context, env *apptest.Env, shop string) (loadSample, error) {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx); err != nil {
		return loadSample{}, err
	}
	tr := recordTransfers(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(shop+"?open=1"),
		chromedp.WaitReady(chromedp.CSS(`iframe[data-altyn="form"][data-state="ready"]`))); err != nil {
		return loadSample{}, err
	}
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`iframe[data-altyn="form"]`)))
	if err != nil {
		return loadSample{}, err
	}
	in := chromedp.FromNode(nodes[0])
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#number"), in),
		chromedp.SendKeys(chromedp.CSS("#number"), "4000000000003055", in),
		chromedp.SendKeys(chromedp.CSS("#expiry"), "1230", in),
		chromedp.SendKeys(chromedp.CSS("#cvv"), "123", in),
		chromedp.Click(chromedp.CSS("#pay"), in),
		chromedp.WaitVisible(chromedp.CSS(`#done`), in),
	); err != nil {
		return loadSample{}, err
	}
	raw, err := chromedp.Run(ctx, chromedp.Poll[[]byte](`altyn.Widget.timings && altyn.Widget.timings.cryptogram && altyn.Widget.timings`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		return loadSample{}, err
	}
	s := loadSample{T: map[string]float64{}}
	if err := json.Unmarshal(raw, &s.T); err != nil {
		return loadSample{}, err
	}
	if os.Getenv("ALTYN_BENCH_DEBUG") != "" {
		fmt.Println(string(raw))
		res, _ := chromedp.Run(ctx, chromedp.Poll[[]byte](`JSON.stringify([performance.getEntriesByType('navigation').map(e => [e.name.slice(-30), Math.round(e.startTime), Math.round(e.responseStart), Math.round(e.responseEnd), Math.round(e.domInteractive), Math.round(e.domContentLoadedEventStart)]), performance.getEntriesByType('resource').map(e => [e.name.slice(-40), Math.round(e.startTime), Math.round(e.responseStart), Math.round(e.responseEnd)])])`,
			chromedp.WithPollingInFrame(nodes[0]), chromedp.WithPollingTimeout(5*time.Second)))
		fmt.Println(string(res))
	}
	time.Sleep(100 * time.Millisecond) // the last loadingFinished events
	s.wasmBytes = tr.sum(func(u string) bool { return strings.Contains(u, "/widget/altyn.wasm") })
	s.altynBytes = tr.sum(func(u string) bool { return strings.HasPrefix(u, env.URL) })
	return s, nil
}

func measureCheckout(browser context.Context, shop string) (float64, error) {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(shop+"?checkout=1")); err != nil {
		return 0, err
	}
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](`window.checkoutResult && window.checkoutResult.cryptogram && window.checkoutDone`,
		chromedp.WithPollingTimeout(20*time.Second)))
	return ms, err
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// textAssetSizes lists the loader and the form's files, raw and gzipped
// (as the server sends them).
func textAssetSizes() string {
	var parts []string
	for _, name := range []string{"altyn.js", "form.js", "form.css", "wasm_exec.js"} {
		b, err := os.ReadFile("../assets/" + name)
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		parts = append(parts, fmt.Sprintf("%s %d / %d", name, len(b), buf.Len()))
	}
	return strings.Join(parts, ", ")
}
