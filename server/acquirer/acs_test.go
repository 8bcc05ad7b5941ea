package acquirer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const pan3DS = "4242424242424242"

// pending authorizes opID with a 3-D Secure test card, 1234.56 RUB.
func (e *env) pending(t *testing.T, opID, pan string, capture bool) Result {
	t.Helper()
	r := authReq(opID, pan)
	r.Amount, r.Capture = 123456, capture
	res, err := e.s.Authorize(context.Background(), r)
	if err != nil || res.Outcome != Outcome3DS {
		t.Fatalf("Authorize(%s) = %+v, %v; want Outcome3DS", opID, res, err)
	}
	return res
}

func pageURL(res Result, md, termURL string) string {
	v := url.Values{"PaReq": {res.PaReq}, "MD": {md}}
	if termURL != "" {
		v.Set("TermUrl", termURL)
	}
	return res.ACSURL + "?" + v.Encode()
}

func TestThreeDSRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_3ds", pan3DS, false)

	resp, page := get(t, pageURL(res, "md-123", "https://shop.example/3ds/return"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET ACS page: got status %d, want 200; body %s", resp.StatusCode, page)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET ACS page: got Content-Type %q, want text/html", ct)
	}
	for _, want := range []string{"altyn sandbox 3-D Secure", `lang="en"`, "1234.56 RUB", "Visa 424242******4242", ">Confirm</button>", ">Fail</button>", `action="` + e.acs + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("GET ACS page: got no %q in\n%s", want, page)
		}
	}

	resp, page = post(t, e.acs, url.Values{"PaReq": {res.PaReq}, "MD": {"md-123"}, "TermUrl": {"https://shop.example/3ds/return"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, ">Confirm</button>") {
		t.Errorf("POST ACS page: got status %d and page\n%s\nwant 200 and the challenge", resp.StatusCode, page)
	}

	a := e.press(t, res, "md-123", "confirm")
	if a.MD != "md-123" || a.PaRes == "" {
		t.Fatalf("press confirm: got %+v, want MD md-123 and a PaRes", a)
	}
	got, err := e.s.Complete3DS(ctx, "pay_3ds", a.PaRes)
	if err != nil {
		t.Fatalf("Complete3DS: %v", err)
	}
	if got.Outcome != OutcomeApproved || got.State != StateAuthorized || got.ReasonCode != 0 || len(got.AuthCode) != 6 {
		t.Errorf("Complete3DS: got %+v, want approved and authorized", got)
	}

	// Repeats, even with the PaRes of a later Fail, answer the first result.
	again, err := e.s.Complete3DS(ctx, "pay_3ds", a.PaRes)
	if err != nil || again != got {
		t.Errorf("Complete3DS again: got %+v, %v; want %+v", again, err, got)
	}
	fail := e.press(t, res, "md-123", "fail")
	if again, err = e.s.Complete3DS(ctx, "pay_3ds", fail.PaRes); err != nil || again != got {
		t.Errorf("Complete3DS with a later Fail: got %+v, %v; want %+v", again, err, got)
	}
	if l, _ := e.s.Ledger("pay_3ds"); l.Holds != 1 || l.State != StateAuthorized {
		t.Errorf("Ledger: got %d holds in %v, want 1 in %v", l.Holds, l.State, StateAuthorized)
	}
	if st, err := e.s.Status(ctx, "pay_3ds"); err != nil || st.State != StateAuthorized || st.AuthCode != got.AuthCode {
		t.Errorf("Status: got %+v, %v; want authorized with AuthCode %s", st, err, got.AuthCode)
	}
}

func TestThreeDSChoices(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		pan       string
		capture   bool
		choice    string
		wantCode  int
		wantState State
	}{
		{"confirm", pan3DS, false, "confirm", 0, StateAuthorized},
		{"confirm charge", "5555555555554444", true, "confirm", 0, StateCaptured},
		{"confirm, issuer declines", "4012888888881881", false, "confirm", ReasonInsufficientFunds, StateDeclined},
		{"fail", pan3DS, false, "fail", ReasonAuthenticationFailed, StateDeclined},
		{"fail charge", "2200000000000004", true, "fail", ReasonAuthenticationFailed, StateDeclined},
	}
	e := newEnv(t, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opID := fmt.Sprintf("pay_choice_%d", i)
			res := e.pending(t, opID, c.pan, c.capture)
			a := e.press(t, res, "md", c.choice)
			got, err := e.s.Complete3DS(context.Background(), opID, a.PaRes)
			if err != nil {
				t.Fatalf("Complete3DS: %v", err)
			}
			if got.ReasonCode != c.wantCode || got.State != c.wantState || got.Reason != ReasonName(c.wantCode) {
				t.Errorf("Complete3DS after %s: got code %d %q state %v, want %d %q %v",
					c.choice, got.ReasonCode, got.Reason, got.State, c.wantCode, ReasonName(c.wantCode), c.wantState)
			}
		})
	}
}

// TestThreeDSReturnPage completes 3-D Secure the way a browser does: from
// the auto-submitting page's form.
func TestThreeDSReturnPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_html", pan3DS, false)
	resp, page := post(t, e.acs, url.Values{
		"PaReq": {res.PaReq}, "MD": {"md-html"}, "TermUrl": {"https://shop.example/3ds/return"}, "choice": {"confirm"},
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("press confirm: got status %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{`action="https://shop.example/3ds/return"`, `name="MD" value="md-html"`, "<script>", ">Continue</button>"} {
		if !strings.Contains(page, want) {
			t.Errorf("return page: got no %q in\n%s", want, page)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("return page: got Content-Security-Policy %q, want a script hash", csp)
	}
	m := regexp.MustCompile(`name="PaRes" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("return page: got no PaRes field in\n%s", page)
	}
	got, err := e.s.Complete3DS(context.Background(), "pay_html", m[1])
	if err != nil || got.Outcome != OutcomeApproved {
		t.Errorf("Complete3DS with the page's PaRes: got %+v, %v; want approved", got, err)
	}
}

// tamper changes the character at i of s to another base64url character.
func tamper(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestComplete3DSBadPaRes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	other := newEnv(t, []byte("another sandbox's secret"))
	res := e.pending(t, "pay_bad", pan3DS, false)
	good := e.press(t, res, "md", "confirm").PaRes
	otherOp := e.press(t, e.pending(t, "pay_other", pan3DS, false), "md", "confirm").PaRes
	otherSecret := other.press(t, other.pending(t, "pay_bad", pan3DS, false), "md", "confirm").PaRes
	payload, sig, _ := strings.Cut(good, ".")

	cases := []struct{ name, paRes string }{
		{"empty", ""},
		{"garbage", "not a PaRes"},
		{"no signature", payload},
		{"tampered payload", tamper(payload, len(payload)/2) + "." + sig},
		{"tampered signature", payload + "." + tamper(sig, 10)},
		{"signature of another token", payload + "." + strings.SplitN(otherOp, ".", 2)[1]},
		{"PaReq instead of PaRes", res.PaReq},
		{"PaRes of another operation", otherOp},
		{"PaRes of another sandbox", otherSecret},
		{"too long", strings.Repeat("A", 5000) + "." + sig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.s.Complete3DS(context.Background(), "pay_bad", c.paRes)
			if !errors.Is(err, ErrBadPaRes) {
				t.Errorf("Complete3DS with %s: got error %v, want ErrBadPaRes", c.name, err)
			}
		})
	}
	if st, _ := e.s.Status(context.Background(), "pay_bad"); st.State != StatePending3DS {
		t.Errorf("Status after bad PaRes: got %v, want %v", st.State, StatePending3DS)
	}
	if got, err := e.s.Complete3DS(context.Background(), "pay_bad", good); err != nil || got.Outcome != OutcomeApproved {
		t.Errorf("Complete3DS with the good PaRes after the bad ones: got %+v, %v; want approved", got, err)
	}
}

func TestThreeDSExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)

	res := e.pending(t, "pay_slow_payer", pan3DS, false)
	e.clock.Advance(ThreeDSTTL)
	if resp, page := get(t, pageURL(res, "md", "https://shop.example/3ds/return")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET ACS page with an expired PaReq: got status %d, want 400; page\n%s", resp.StatusCode, page)
	}

	res = e.pending(t, "pay_slow_shop", pan3DS, false)
	paRes := e.press(t, res, "md", "confirm").PaRes
	e.clock.Advance(ThreeDSTTL)
	if _, err := e.s.Complete3DS(ctx, "pay_slow_shop", paRes); !errors.Is(err, ErrBadPaRes) {
		t.Errorf("Complete3DS with an expired PaRes: got error %v, want ErrBadPaRes", err)
	}

	// A completed operation answers its repeats even after the PaRes expired,
	// so an engine that lost the answer can still learn it.
	res = e.pending(t, "pay_repeat", pan3DS, false)
	paRes = e.press(t, res, "md", "confirm").PaRes
	first, err := e.s.Complete3DS(ctx, "pay_repeat", paRes)
	if err != nil {
		t.Fatalf("Complete3DS: %v", err)
	}
	e.clock.Advance(ThreeDSTTL + time.Hour)
	if again, err := e.s.Complete3DS(ctx, "pay_repeat", paRes); err != nil || again != first {
		t.Errorf("Complete3DS repeated after expiry: got %+v, %v; want %+v", again, err, first)
	}
}

// TestThreeDSSurvivesRestart completes 3-D Secure on a new sandbox with the
// same secret, which never saw the Authorize.
func TestThreeDSSurvivesRestart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		pan       string
		capture   bool
		choice    string
		wantCode  int
		wantState State
	}{
		{"authorization", pan3DS, false, "confirm", 0, StateAuthorized},
		{"charge", pan3DS, true, "confirm", 0, StateCaptured},
		{"issuer declines", "5105105105105100", false, "confirm", ReasonInsufficientFunds, StateDeclined},
		{"failed authentication", pan3DS, false, "fail", ReasonAuthenticationFailed, StateDeclined},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			before := newEnv(t, nil)
			opID := fmt.Sprintf("pay_restart_%d", i)
			res := before.pending(t, opID, c.pan, c.capture)
			paRes := before.press(t, res, "md", c.choice).PaRes

			after := newEnv(t, nil) // the restarted server: same secret, empty ledger
			if _, err := after.s.Status(ctx, opID); !errors.Is(err, ErrUnknownOperation) {
				t.Fatalf("Status after restart: got error %v, want ErrUnknownOperation", err)
			}
			got, err := after.s.Complete3DS(ctx, opID, paRes)
			if err != nil {
				t.Fatalf("Complete3DS after restart: %v", err)
			}
			if got.ReasonCode != c.wantCode || got.State != c.wantState || got.Amount != 123456 || got.Currency != "RUB" {
				t.Errorf("Complete3DS after restart: got %+v, want code %d state %v 123456 RUB", got, c.wantCode, c.wantState)
			}
			l, _ := after.s.Ledger(opID)
			if !l.Restored || l.CardMask != "424242******4242" && c.pan == pan3DS {
				t.Errorf("Ledger after restart: got %+v, want a restored entry with the card mask", l)
			}
			if again, err := after.s.Complete3DS(ctx, opID, paRes); err != nil || again != got {
				t.Errorf("Complete3DS repeated after restart: got %+v, %v; want %+v", again, err, got)
			}
			if c.wantState == StateAuthorized {
				if err := after.s.Capture(ctx, opID, 123456); err != nil {
					t.Errorf("Capture after restart: %v", err)
				}
			}

			stranger := newEnv(t, []byte("a different secret"))
			if _, err := stranger.s.Complete3DS(ctx, opID, paRes); !errors.Is(err, ErrBadPaRes) {
				t.Errorf("Complete3DS on a sandbox with another secret: got error %v, want ErrBadPaRes", err)
			}
		})
	}
}

func TestComplete3DSAfterVoid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_abandoned", pan3DS, false)
	paRes := e.press(t, res, "md", "confirm").PaRes
	if err := e.s.Void(ctx, "pay_abandoned"); err != nil {
		t.Fatalf("Void of a pending operation: %v", err)
	}
	if _, err := e.s.Complete3DS(ctx, "pay_abandoned", paRes); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Complete3DS after Void: got error %v, want ErrInvalidRequest", err)
	}
	if l, _ := e.s.Ledger("pay_abandoned"); l.State != StateVoided || l.Holds != 0 {
		t.Errorf("Ledger: got %v with %d holds, want %v with 0", l.State, l.Holds, StateVoided)
	}
}

func TestThreeDSTermURLFromAuthorize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_term", pan3DS, false)
	resp, page := post(t, e.acs, url.Values{"PaReq": {res.PaReq}, "MD": {"m"}, "choice": {"fail"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="https://shop.example/3ds/return"`) {
		t.Errorf("return page without TermUrl: got status %d and\n%s\nwant the TermURL of Authorize", resp.StatusCode, page)
	}
}

func TestACSEscapes(t *testing.T) {
	t.Parallel()
	const evil = `https://shop.example/3ds?x="><script>alert(1)</script>`
	const evilMD = `"><script>alert(2)</script><img src=x onerror=alert(3)>`
	e := newEnv(t, nil)
	r := authReq("pay_evil", pan3DS)
	r.TermURL = evil
	res, err := e.s.Authorize(context.Background(), r)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	pages := map[string]func() (*http.Response, string){
		"challenge by GET": func() (*http.Response, string) { return get(t, pageURL(res, evilMD, evil)) },
		"challenge with the TermURL of Authorize": func() (*http.Response, string) {
			return get(t, pageURL(res, evilMD, ""))
		},
		"return page": func() (*http.Response, string) {
			return post(t, e.acs, url.Values{"PaReq": {res.PaReq}, "MD": {evilMD}, "TermUrl": {evil}, "choice": {"confirm"}})
		},
	}
	for name, fetch := range pages {
		t.Run(name, func(t *testing.T) {
			resp, page := fetch()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200; page\n%s", resp.StatusCode, page)
			}
			for _, bad := range []string{`"><script>`, "<script>alert", "<img", `" onerror`} {
				if strings.Contains(page, bad) {
					t.Errorf("got unescaped %q in\n%s", bad, page)
				}
			}
			if n := strings.Count(page, "<script"); n > 1 {
				t.Errorf("got %d script elements, want at most the page's own", n)
			}
		})
	}
}

func TestACSRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res := e.pending(t, "pay_rejects", pan3DS, false)
	r := authReq("pay_no_term", pan3DS)
	r.TermURL = ""
	noTerm, err := e.s.Authorize(context.Background(), r)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	payload, sig, _ := strings.Cut(res.PaReq, ".")
	ok := url.Values{"PaReq": {res.PaReq}, "MD": {"md"}, "TermUrl": {"https://shop.example/r"}}
	with := func(k, v string) url.Values {
		w := url.Values{}
		for key, vals := range ok {
			w[key] = vals
		}
		w.Set(k, v)
		return w
	}
	cases := []struct {
		name       string
		method     string
		query      string
		form       url.Values
		wantStatus int
	}{
		{"PUT", http.MethodPut, "", ok, http.StatusMethodNotAllowed},
		{"DELETE", http.MethodDelete, "", ok, http.StatusMethodNotAllowed},
		{"no PaReq", http.MethodPost, "", with("PaReq", ""), http.StatusBadRequest},
		{"forged PaReq", http.MethodPost, "", with("PaReq", tamper(payload, 7)+"."+sig), http.StatusBadRequest},
		{"PaRes as PaReq", http.MethodPost, "", with("PaReq", e.press(t, res, "md", "confirm").PaRes), http.StatusBadRequest},
		{"javascript TermUrl", http.MethodPost, "", with("TermUrl", "javascript:alert(1)"), http.StatusBadRequest},
		{"relative TermUrl", http.MethodPost, "", with("TermUrl", "/3ds/return"), http.StatusBadRequest},
		{"no TermUrl anywhere", http.MethodPost, "", url.Values{"PaReq": {noTerm.PaReq}, "MD": {"md"}}, http.StatusBadRequest},
		{"unknown choice", http.MethodPost, "", with("choice", "maybe"), http.StatusBadRequest},
		{"unknown choice, JSON", http.MethodPost, "format=json", with("choice", "maybe"), http.StatusBadRequest},
		{"long MD", http.MethodPost, "", with("MD", strings.Repeat("m", 1025)), http.StatusBadRequest},
		{"choice in the query only", http.MethodPost, "choice=confirm", ok, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := e.acs
			if c.query != "" {
				u += "?" + c.query
			}
			req, err := http.NewRequest(c.method, u, strings.NewReader(c.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s ACS: %v", c.method, err)
			}
			page := body(t, resp)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("got status %d, want %d; body\n%s", resp.StatusCode, c.wantStatus, page)
			}
			if c.wantStatus == http.StatusOK {
				if !strings.Contains(page, ">Confirm</button>") {
					t.Errorf("got\n%s\nwant the challenge page (a choice counts only in the form)", page)
				}
				return
			}
			wantType := "text/html"
			if strings.Contains(c.query, "format=json") {
				wantType = "application/json"
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Errorf("got Content-Type %q, want %s", ct, wantType)
			}
			for _, echoed := range []string{"maybe", "javascript", "/3ds/return", "mmmm"} {
				if strings.Contains(page, echoed) {
					t.Errorf("got the request's %q echoed in the error\n%s", echoed, page)
				}
			}
		})
	}
}

// TestNoPANLeaks collects every page, error and result the sandbox produces
// for a card and checks that none of them carries the card number.
func TestNoPANLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	var seen []string
	note := func(what string, v ...any) {
		for _, x := range v {
			seen = append(seen, fmt.Sprintf("%s: %v %+v", what, x, x))
		}
	}
	for i, pan := range []string{pan3DS, "4242424242424241", "4000056655665556", "4242abcd42424242"} {
		opID := fmt.Sprintf("pay_leak_%d", i)
		r := authReq(opID, pan)
		res, err := e.s.Authorize(ctx, r)
		note("authorize", res, err)
		r.Amount++
		_, err = e.s.Authorize(ctx, r)
		note("authorize reused", err)
		r.Amount = 0
		_, err = e.s.Authorize(ctx, r)
		note("authorize invalid", err)
		note("capture", e.s.Capture(ctx, opID, 1<<40))
		note("refund", e.s.Refund(ctx, opID, "ref", 1<<40))
		l, _ := e.s.Ledger(opID)
		note("ledger", l)
		if res.Outcome != Outcome3DS {
			continue
		}
		for _, tok := range []string{res.PaReq} {
			p, _, _ := strings.Cut(tok, ".")
			b, _ := base64.RawURLEncoding.DecodeString(p)
			note("PaReq payload", string(b))
		}
		_, page := get(t, pageURL(res, "md", "https://shop.example/r"))
		note("challenge page", page)
		_, page = post(t, e.acs, url.Values{"PaReq": {res.PaReq}, "MD": {"md"}, "TermUrl": {"https://shop.example/r"}, "choice": {"confirm"}})
		note("return page", page)
		a := e.press(t, res, "md", "fail")
		p, _, _ := strings.Cut(a.PaRes, ".")
		b, _ := base64.RawURLEncoding.DecodeString(p)
		note("PaRes payload", string(b))
		_, err = e.s.Complete3DS(ctx, opID, "bogus")
		note("complete3ds bad", err)
		res, err = e.s.Complete3DS(ctx, opID, a.PaRes)
		note("complete3ds", res, err)
		_, page = get(t, e.acs+"?PaReq=bogus")
		note("error page", page)
	}
	e.s.Inject(Fault{Kind: FaultTimeoutAfter})
	_, err := e.s.Authorize(ctx, authReq("pay_leak_fault", pan3DS))
	note("fault", err)
	e.s.ClearFaults()

	for _, pan := range []string{pan3DS, "4242424242424241", "4000056655665556", "4242abcd42424242", "4242424242", "abcd4242"} {
		for _, s := range seen {
			if strings.Contains(s, pan) {
				t.Errorf("got card data %s in %s", pan, s)
			}
		}
	}
}
