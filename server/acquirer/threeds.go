package acquirer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ThreeDSTTL is how long a PaReq may be taken to the ACS, and a PaRes to
// Complete3DS, after it was issued.
const ThreeDSTTL = 20 * time.Minute

// Token kinds. The kind is both inside the signed claims and in the MAC's
// input, so a PaReq can never pass as a PaRes.
const (
	kindPaReq = "pareq"
	kindPaRes = "pares"
)

// maxTokenLen bounds what the sandbox will try to decode.
const maxTokenLen = 4096

// threeDSClaims is what a PaReq or PaRes carries. Both are self-contained,
// so 3-D Secure completes even when the sandbox restarted (and lost its
// in-memory ledger) between Authorize and Complete3DS: the PaRes alone says
// which operation it is for, what to charge and what the answer is.
type threeDSClaims struct {
	Kind      string `json:"k"`
	OpID      string `json:"op"`
	Amount    int64  `json:"amt"`
	Currency  string `json:"cur"`
	Mask      string `json:"mask"`            // card mask only, never the PAN
	Brand     string `json:"brand,omitempty"` // card network, for the ACS page
	Capture   bool   `json:"cap,omitempty"`   // one-stage payment
	Decision  int    `json:"dec"`             // reason code applied after successful authentication; 0 approves
	TermURL   string `json:"term,omitempty"`  // from AuthorizeRequest; the form's TermUrl wins
	Confirmed bool   `json:"ok,omitempty"`    // PaRes only: the payer pressed Confirm
	Expires   int64  `json:"exp"`             // Unix seconds
}

// errToken is the one reason a token is refused, on purpose: the caller
// learns nothing about which check failed.
var errToken = errors.New("invalid or forged token")

// signToken encodes claims as base64url(JSON) "." base64url(HMAC-SHA256).
func (s *Sandbox) signToken(c threeDSClaims) string {
	payload, err := json.Marshal(c)
	if err != nil {
		// Marshalling a struct of strings, ints and bools cannot fail.
		panic("acquirer: encode 3-D Secure claims: " + err.Error())
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.tokenMAC(c.Kind, p))
}

// tokenMAC authenticates the encoded payload under a label naming the
// protocol, its version and the token kind, so the sandbox's key signs
// nothing else that could be confused with a PaReq or PaRes.
func (s *Sandbox) tokenMAC(kind, payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("altyn sandbox 3-D Secure v1\x00" + kind + "\x00" + payload))
	return m.Sum(nil)
}

// parseToken verifies a token of the given kind and returns its claims. It
// does not check the expiry: callers decide what an expired token may still
// do (an already completed operation answers its repeats).
func (s *Sandbox) parseToken(kind, token string) (threeDSClaims, error) {
	var c threeDSClaims
	if len(token) > maxTokenLen {
		return c, errToken
	}
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return c, errToken
	}
	// Compare the encoded MAC, not the decoded one: base64 decoding ignores
	// line breaks and the unused bits of the last character, and a token
	// must have exactly one valid spelling.
	want := base64.RawURLEncoding.EncodeToString(s.tokenMAC(kind, p))
	if !hmac.Equal([]byte(m), []byte(want)) {
		return c, errToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return c, errToken
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil || c.Kind != kind || c.OpID == "" {
		return threeDSClaims{}, errToken
	}
	return c, nil
}

// expired reports whether the claims' expiry has passed at now.
func (c threeDSClaims) expired(now time.Time) bool {
	return !now.Before(time.Unix(c.Expires, 0))
}

// issuePaRes turns a verified PaReq into the PaRes for the payer's choice.
func (s *Sandbox) issuePaRes(req threeDSClaims, confirmed bool) string {
	res := req
	res.Kind = kindPaRes
	res.TermURL = ""
	res.Confirmed = confirmed
	res.Expires = s.now().Add(ThreeDSTTL).Unix()
	return s.signToken(res)
}
