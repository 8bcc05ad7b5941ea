package acquirer

import (
	"testing"
	"time"
)

// FuzzParseToken feeds arbitrary PaReq/PaRes strings to the parser: it must
// never panic, and must accept nothing it did not sign.
func FuzzParseToken(f *testing.F) {
	s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
	req := s.signToken(threeDSClaims{Kind: kindPaReq, OpID: "pay_1", Amount: 100, Currency: "RUB", Mask: "424242******4242", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()})
	res := s.issuePaRes(threeDSClaims{Kind: kindPaReq, OpID: "pay_1", Amount: 100, Currency: "RUB"}, true)
	for _, seed := range []string{req, res, "", ".", "a.b", "e30.", "e30.AAAA", req + "x", res[:len(res)-3]} {
		f.Add(seed)
	}
	valid := map[string]bool{req: true, res: true}
	f.Fuzz(func(t *testing.T, token string) {
		for _, kind := range []string{kindPaReq, kindPaRes} {
			c, err := s.parseToken(kind, token)
			if err != nil {
				continue
			}
			if c.Kind != kind || c.OpID == "" {
				t.Errorf("parseToken(%s, %q): got claims %+v", kind, token, c)
			}
			if !valid[token] {
				t.Errorf("parseToken(%s, %q): accepted a token it did not issue", kind, token)
			}
		}
	})
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	s := NewSandbox(SandboxOptions{Secret: testSecret, Now: newTestClock().Now})
	want := threeDSClaims{Kind: kindPaReq, OpID: "pay_1", Amount: 12345, Currency: "KZT", Mask: "424242******4242", Brand: "Visa", Capture: true, Decision: 5051, TermURL: "https://shop.example/r", Expires: 1_900_000_000}
	tok := s.signToken(want)
	got, err := s.parseToken(kindPaReq, tok)
	if err != nil || got != want {
		t.Fatalf("parseToken(signToken(%+v)): got %+v, %v", want, got, err)
	}
	if _, err := s.parseToken(kindPaRes, tok); err == nil {
		t.Errorf("parseToken(pares, a PaReq): got no error, want one")
	}
	if !got.expired(time.Unix(1_900_000_000, 0)) || got.expired(time.Unix(1_899_999_999, 0)) {
		t.Errorf("expired: want true at and after Expires, false before")
	}
}
