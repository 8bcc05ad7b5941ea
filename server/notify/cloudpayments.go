package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/money"
	"github.com/altynpay/altyn/store"
)

// cpField is one field of a CloudPayments notification. In a form body
// every value is text; in a JSON body num fields are JSON numbers (amounts
// keep their decimal digits, "1500.00", and are never floats) and a field
// with no value is null.
type cpField struct {
	key   string
	value string
	num   bool
	null  bool
}

type cpFields []cpField

func (f *cpFields) str(k, v string) { *f = append(*f, cpField{key: k, value: v}) }
func (f *cpFields) opt(k, v string) { *f = append(*f, cpField{key: k, value: v, null: v == ""}) }
func (f *cpFields) num(k, v string) { *f = append(*f, cpField{key: k, value: v, num: true}) }
func (f *cpFields) int(k string, v int64) {
	*f = append(*f, cpField{key: k, value: strconv.FormatInt(v, 10), num: true})
}
func (f *cpFields) flag(k string, v bool) {
	s := "0"
	if v {
		s = "1"
	}
	*f = append(*f, cpField{key: k, value: s, num: true})
}

// form encodes the fields as application/x-www-form-urlencoded, in order.
func (f cpFields) form() []byte {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(x.key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(x.value))
	}
	return []byte(b.String())
}

// json encodes the fields as a JSON object, in order.
func (f cpFields) json() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.key)
		b.Write(k)
		b.WriteByte(':')
		switch {
		case x.null:
			b.WriteString("null")
		case x.num:
			b.WriteString(x.value)
		default:
			v, _ := json.Marshal(x.value)
			b.Write(v)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// cpDateTime is CloudPayments' DateTime: "yyyy-MM-dd HH:mm:ss" in UTC.
func cpDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// cpFieldsOf renders an event with CloudPayments' field names (SPEC.md §1.6).
func cpFieldsOf(ev *event, m *store.Merchant) (cpFields, error) {
	if ev.Type == TypeRecurrent {
		return cpRecurrent(ev)
	}
	p := ev.Payment
	var f cpFields
	if ev.Type == TypeRefund {
		r := ev.Refund
		f.int("TransactionId", r.TransactionID)
		f.int("PaymentTransactionId", p.TransactionID)
		f.num("Amount", money.Decimal(r.Amount, p.Currency))
		f.str("Currency", p.Currency)
		f.str("DateTime", cpDateTime(r.CreatedAt))
		f.str("OperationType", "Refund")
		f.flag("TestMode", p.TestMode)
		f.opt("InvoiceId", p.InvoiceID)
		f.opt("AccountId", p.AccountID)
		f.opt("Email", p.Email)
		f.opt("Data", string(p.Data))
		return f, nil
	}
	amount, status := p.Amount, string(p.Status)
	switch ev.Type {
	case TypeCheck:
		// Check asks before the payment happens: Status is what it will
		// become if accepted, as CloudPayments sends it.
		status = string(store.StatusCompleted)
		if p.TwoStage {
			status = string(store.StatusAuthorized)
		}
	case TypeConfirm:
		amount = p.CapturedAmount
	}
	f.int("TransactionId", p.TransactionID)
	f.num("Amount", money.Decimal(amount, p.Currency))
	f.str("Currency", p.Currency)
	f.num("PaymentAmount", money.Decimal(amount, p.Currency))
	f.str("PaymentCurrency", p.Currency)
	f.str("DateTime", cpDateTime(p.CreatedAt))
	f.opt("CardFirstSix", p.CardFirstSix)
	f.opt("CardLastFour", p.CardLastFour)
	f.opt("CardType", p.CardBrand)
	exp := ""
	if p.CardExpMonth > 0 {
		exp = fmt.Sprintf("%02d/%02d", p.CardExpMonth, p.CardExpYear%100)
	}
	f.opt("CardExpDate", exp)
	f.flag("TestMode", p.TestMode)
	f.str("Status", status)
	f.str("OperationType", "Payment")
	f.opt("InvoiceId", p.InvoiceID)
	f.opt("AccountId", p.AccountID)
	f.opt("SubscriptionId", p.SubscriptionID)
	f.opt("Name", p.CardholderName)
	f.opt("Email", p.Email)
	f.opt("IpAddress", p.IPAddress)
	f.opt("Description", p.Description)
	f.opt("Data", string(p.Data))
	gateway := "altyn"
	if m.TestMode {
		gateway = "Test"
	}
	switch ev.Type {
	case TypePay, TypeConfirm:
		f.str("GatewayName", gateway)
		f.opt("AuthCode", p.AuthCode)
		f.opt("Token", p.TokenID)
	case TypeFail:
		f.str("GatewayName", gateway)
		f.str("Reason", p.Reason)
		f.int("ReasonCode", int64(p.ReasonCode))
	}
	return f, nil
}

// cpRecurrent renders a subscription as CloudPayments' Recurrent
// notification (their subscription model).
func cpRecurrent(ev *event) (cpFields, error) {
	s, err := decodeSubscription(ev.Subscription)
	if err != nil {
		return nil, fmt.Errorf("subscription: %w", err)
	}
	var f cpFields
	f.str("Id", s.str("Id", "ID"))
	f.opt("AccountId", s.str("AccountId"))
	f.opt("Description", s.str("Description"))
	f.opt("Email", s.str("Email"))
	currency := s.str("Currency")
	if amount, ok := s.int("Amount"); ok {
		f.num("Amount", money.Decimal(amount, currency))
	} else {
		f.opt("Amount", "")
	}
	f.str("Currency", currency)
	confirm, _ := s.bool("RequireConfirmation")
	f.flag("RequireConfirmation", confirm)
	f.opt("StartDate", cpDateTime(s.time("StartDate", "StartAt")))
	f.opt("Interval", s.str("Interval"))
	cpInt(&f, s, "Period")
	f.str("Status", s.str("Status"))
	cpInt(&f, s, "SuccessfulTransactionsNumber", "SuccessfulTransactions")
	cpInt(&f, s, "FailedTransactionsNumber", "FailedTransactions")
	cpInt(&f, s, "MaxPeriods")
	f.opt("LastTransactionDate", cpDateTime(s.time("LastTransactionDate", "LastTransactionAt")))
	f.opt("NextTransactionDate", cpDateTime(s.time("NextTransactionDate", "NextTransactionAt")))
	return f, nil
}

func cpInt(f *cpFields, s subscription, names ...string) {
	if v, ok := s.int(names...); ok {
		f.int(names[0], v)
	} else {
		f.opt(names[0], "")
	}
}

// ContentHMAC is CloudPayments' Content-HMAC header value:
// base64(HMAC-SHA256(API secret, message)), where message is the exact body
// bytes (the query string for GET).
func ContentHMAC(secret string, message []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(message)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// xContentHMAC is CloudPayments' X-Content-HMAC: the same over the
// URL-decoded parameters. A JSON body is not URL-encoded, so it is signed
// as sent.
func xContentHMAC(secret string, message []byte, form bool) string {
	if !form {
		return ContentHMAC(secret, message)
	}
	decoded, err := url.QueryUnescape(string(message))
	if err != nil {
		decoded = string(message)
	}
	return ContentHMAC(secret, []byte(decoded))
}
