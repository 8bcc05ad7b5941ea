package acquirer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// testSecret is the HMAC key of the sandboxes under test.
var testSecret = []byte("altyn sandbox test secret, 32 by")

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, time.June, 15, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sandbox with its ACS served by a real HTTP server.
type env struct {
	s     *Sandbox
	clock *testClock
	srv   *httptest.Server
	acs   string // the ACS URL
}

// newEnv starts a sandbox with the given secret (testSecret when nil) and
// serves its Handler at /sandbox/acs.
func newEnv(t *testing.T, secret []byte) *env {
	t.Helper()
	if secret == nil {
		secret = testSecret
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clock := newTestClock()
	acs := srv.URL + "/sandbox/acs"
	s := NewSandbox(SandboxOptions{Secret: secret, ACSBaseURL: acs, Now: clock.Now})
	mux.Handle("/sandbox/acs", s.Handler())
	return &env{s: s, clock: clock, srv: srv, acs: acs}
}

// testCardData returns card data valid at the test clock's time.
func testCardData(pan string) cryptogram.Card {
	return cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: 2029, CVV: "123", Name: "TEST CARDHOLDER"}
}

// authReq is a two-stage authorization of 1000.00 RUB by pan.
func authReq(opID, pan string) AuthorizeRequest {
	return AuthorizeRequest{
		OpID:     opID,
		Card:     testCardData(pan),
		Amount:   100000,
		Currency: "RUB",
		TermURL:  "https://shop.example/3ds/return",
	}
}

// approvedNo3DS is a test card that approves without 3-D Secure.
const approvedNo3DS = "4000000000003055"

// authorized places a hold of amount with the card that approves at once.
func authorized(t *testing.T, s *Sandbox, opID string, amount int64, capture bool) Result {
	t.Helper()
	r := authReq(opID, approvedNo3DS)
	r.Amount, r.Capture = amount, capture
	res, err := s.Authorize(context.Background(), r)
	if err != nil || res.Outcome != OutcomeApproved {
		t.Fatalf("Authorize(%s) = %+v, %v; want approved", opID, res, err)
	}
	return res
}

// acsAnswer is the ACS's JSON answer to pressing a button.
type acsAnswer struct {
	MD    string `json:"MD"`
	PaRes string `json:"PaRes"`
}

// press posts the payer's choice ("confirm" or "fail") to the ACS with
// format=json and returns its answer.
func (e *env) press(t *testing.T, res Result, md, choice string) acsAnswer {
	t.Helper()
	resp, err := http.PostForm(res.ACSURL+"?format=json", url.Values{
		"PaReq":   {res.PaReq},
		"MD":      {md},
		"TermUrl": {"https://shop.example/3ds/return"},
		"choice":  {choice},
	})
	if err != nil {
		t.Fatalf("POST ACS: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST ACS %s: got status %d, want 200", choice, resp.StatusCode)
	}
	var a acsAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST ACS: decode JSON: %v", err)
	}
	return a
}

// get fetches u and returns the response and body.
func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	return resp, body(t, resp)
}

// post posts form to u and returns the response and body.
func post(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp, body(t, resp)
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}
