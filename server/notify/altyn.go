package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/store"
)

// SignatureHeader is the header that signs altyn-format notifications:
//
//	Altyn-Signature: t=1767225600, v1=ece9dbfd4d94e5591022e9f0c9dc36540936e3b5eebda0507d9f2af8225a8bb7
//
// where v1 is hex(HMAC-SHA256(API secret, t + "." + body)) and t the Unix
// time of sending (this one signs ExampleVerify's body). Signing the time lets a receiver refuse replays: Verify
// rejects a t outside its tolerance.
const SignatureHeader = "Altyn-Signature"

// EventIDHeader carries the notification's unique id ("evt_…") in every
// format; a receiver deduplicates by it, as a notification may arrive more
// than once.
const EventIDHeader = "Altyn-Event-Id"

// EventTypeHeader carries the notification type (Pay, Fail, …).
const EventTypeHeader = "Altyn-Event-Type"

// Sign returns the Altyn-Signature header value of body sent at t.
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ", v1=" + hex.EncodeToString(signature(secret, ts, body))
}

func signature(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Verification errors.
var (
	// ErrBadSignatureHeader: the header is missing or not of the form t=…, v1=….
	ErrBadSignatureHeader = errors.New("notify: malformed Altyn-Signature header")
	// ErrSignatureMismatch: no v1 value matches the body and the secret.
	ErrSignatureMismatch = errors.New("notify: signature does not match")
	// ErrSignatureExpired: t is further from now than the tolerance (a replay, or a wrong clock).
	ErrSignatureExpired = errors.New("notify: signature timestamp outside tolerance")
)

// Verify checks an altyn-format notification as a receiver should: header
// is the Altyn-Signature value, body the exact bytes received, secret the
// merchant's API secret. The signature must match and its time be within
// tolerance of now (5 minutes is a good tolerance; 0 skips the time check,
// which lets replays through). Several v1 values may be present; one match
// suffices.
//
//	err := notify.Verify(secret, r.Header.Get("Altyn-Signature"), body, 5*time.Minute, time.Now())
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignatureHeader
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrBadSignatureHeader
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return ErrBadSignatureHeader
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 || ts != strconv.FormatInt(sec, 10) {
		return ErrBadSignatureHeader
	}
	want := signature(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return ErrSignatureExpired
		}
	}
	return nil
}

// altynEvent is the altyn format's body: snake_case JSON in the API's names.
type altynEvent struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	CreatedAt    string          `json:"created_at"`
	Payment      *altynPayment   `json:"payment,omitempty"`
	Refund       *altynRefund    `json:"refund,omitempty"`
	Subscription json.RawMessage `json:"subscription,omitempty"`
}

type altynMoney struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type altynCard struct {
	Mask     string `json:"mask"`
	FirstSix string `json:"first_six"`
	LastFour string `json:"last_four"`
	Brand    string `json:"brand,omitempty"`
	ExpMonth int    `json:"exp_month,omitempty"`
	ExpYear  int    `json:"exp_year,omitempty"`
}

type altynPayment struct {
	ID                string          `json:"id"`
	TransactionID     int64           `json:"transaction_id"`
	Status            string          `json:"status"`
	TwoStage          bool            `json:"two_stage"`
	Amount            altynMoney      `json:"amount"`
	AuthorizedAmount  int64           `json:"authorized_amount"`
	CapturedAmount    int64           `json:"captured_amount"`
	RefundedAmount    int64           `json:"refunded_amount"`
	InvoiceID         string          `json:"invoice_id,omitempty"`
	AccountID         string          `json:"account_id,omitempty"`
	Description       string          `json:"description,omitempty"`
	Email             string          `json:"email,omitempty"`
	IPAddress         string          `json:"ip_address,omitempty"`
	CardholderName    string          `json:"cardholder_name,omitempty"`
	Data              json.RawMessage `json:"data,omitempty"`
	Card              *altynCard      `json:"card,omitempty"`
	AuthCode          string          `json:"auth_code,omitempty"`
	ReasonCode        int             `json:"reason_code"`
	Reason            string          `json:"reason,omitempty"`
	CardholderMessage string          `json:"cardholder_message,omitempty"`
	Token             string          `json:"token,omitempty"`
	TestMode          bool            `json:"test_mode"`
	CreatedAt         string          `json:"created_at"`
	AuthorizedAt      string          `json:"authorized_at,omitempty"`
	CapturedAt        string          `json:"captured_at,omitempty"`
	CancelledAt       string          `json:"cancelled_at,omitempty"`
	DeclinedAt        string          `json:"declined_at,omitempty"`
	ExpiresAt         string          `json:"expires_at,omitempty"`
}

type altynRefund struct {
	ID            string     `json:"id"`
	TransactionID int64      `json:"transaction_id"`
	Amount        altynMoney `json:"amount"`
	Status        string     `json:"status"`
	CreatedAt     string     `json:"created_at"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// altynBody renders an event in altyn's format.
func altynBody(ev *event) ([]byte, error) {
	out := altynEvent{ID: ev.ID, Type: ev.Type, CreatedAt: rfc3339(ev.CreatedAt)}
	if p := ev.Payment; p != nil {
		out.Payment = altynPaymentOf(p)
	}
	if r := ev.Refund; r != nil {
		out.Refund = &altynRefund{ID: r.ID, TransactionID: r.TransactionID, Amount: altynMoney{r.Amount, ev.Payment.Currency},
			Status: string(r.Status), CreatedAt: rfc3339(r.CreatedAt)}
	}
	if len(ev.Subscription) > 0 {
		sub, err := snakeKeys(ev.Subscription)
		if err != nil {
			return nil, fmt.Errorf("subscription: %w", err)
		}
		out.Subscription = sub
	}
	return json.Marshal(out)
}

func altynPaymentOf(p *store.Payment) *altynPayment {
	out := &altynPayment{
		ID: p.ID, TransactionID: p.TransactionID, Status: string(p.Status), TwoStage: p.TwoStage,
		Amount: altynMoney{p.Amount, p.Currency}, AuthorizedAmount: p.AuthorizedAmount,
		CapturedAmount: p.CapturedAmount, RefundedAmount: p.RefundedAmount,
		InvoiceID: p.InvoiceID, AccountID: p.AccountID, Description: p.Description, Email: p.Email,
		IPAddress: p.IPAddress, CardholderName: p.CardholderName, AuthCode: p.AuthCode,
		ReasonCode: p.ReasonCode, Reason: p.Reason, Token: p.TokenID, TestMode: p.TestMode,
		CreatedAt: rfc3339(p.CreatedAt), AuthorizedAt: rfc3339(p.AuthorizedAt), CapturedAt: rfc3339(p.CapturedAt),
		CancelledAt: rfc3339(p.CancelledAt), DeclinedAt: rfc3339(p.DeclinedAt), ExpiresAt: rfc3339(p.ExpiresAt),
	}
	if len(p.Data) > 0 && json.Valid(p.Data) {
		out.Data = p.Data
	}
	if p.CardLastFour != "" {
		out.Card = &altynCard{Mask: store.CardMask(p.CardFirstSix, p.CardLastFour), FirstSix: p.CardFirstSix, LastFour: p.CardLastFour,
			Brand: p.CardBrand, ExpMonth: p.CardExpMonth, ExpYear: p.CardExpYear}
	}
	if p.Status == store.StatusDeclined {
		out.CardholderMessage = acquirer.CardHolderMessage(p.ReasonCode, "en")
	}
	return out
}
