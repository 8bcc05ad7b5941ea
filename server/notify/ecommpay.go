package notify

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/store"
)

// EcommpaySignature signs data as ecommpay does (SPEC.md §2): every field
// but "signature" and "frame_mode" is flattened to "path:value" (nested
// keys joined by ':', array items by index; booleans as 1/0, null as empty,
// numbers as their shortest decimal text), the keys of each level ordered
// integer-like first in numeric order, then the rest in byte order, the
// pieces joined with ';', and the result is base64(HMAC-SHA512(secret,
// joined)). data is what encoding/json decodes (map[string]any, []any,
// string, bool, float64 or json.Number, nil), or Go ints.
func EcommpaySignature(secret string, data map[string]any) string {
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write([]byte(EcommpayJoined(data)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// EcommpayJoined is the string EcommpaySignature signs.
func EcommpayJoined(data map[string]any) string {
	top := make(map[string]any, len(data))
	for k, v := range data {
		if k != "signature" && k != "frame_mode" {
			top[k] = v
		}
	}
	var parts []string
	flatten("", top, &parts)
	return strings.Join(parts, ";")
}

func flatten(prefix string, v any, parts *[]string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			flatten(prefix+k+":", v[k], parts)
		}
	case []any:
		for i, x := range v {
			flatten(prefix+strconv.Itoa(i)+":", x, parts)
		}
	default:
		*parts = append(*parts, prefix+scalar(v))
	}
}

// sortKeys orders one level's keys: integer-like keys first, by value,
// then the others in byte order.
func sortKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, aerr := strconv.ParseUint(keys[i], 10, 64)
		b, berr := strconv.ParseUint(keys[j], 10, 64)
		switch {
		case aerr == nil && berr == nil:
			if a != b {
				return a < b
			}
			return keys[i] < keys[j]
		case aerr == nil:
			return true
		case berr == nil:
			return false
		}
		return keys[i] < keys[j]
	})
}

func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "1"
		}
		return "0"
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return strconv.FormatInt(n, 10)
		}
		if f, err := v.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return v.String()
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprint(v)
}

// ecommpayDate is ecommpay's date form, e.g. "2018-12-04T08:10:02+0000".
func ecommpayDate(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-0700")
}

// put sets k to v unless v is empty: ecommpay's SDK refuses callbacks
// holding null, so fields without a value are left out.
func put(m map[string]any, k string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case map[string]any:
		if len(x) == 0 {
			return
		}
	case nil:
		return
	}
	m[k] = v
}

// ecommpayBody renders an event as ecommpay's callback, signed.
func ecommpayBody(ev *event, m *store.Merchant, secret string) ([]byte, error) {
	data := map[string]any{"project_id": m.PublicID}
	if ev.Type == TypeRecurrent {
		s, err := decodeSubscription(ev.Subscription)
		if err != nil {
			return nil, fmt.Errorf("subscription: %w", err)
		}
		rec := map[string]any{}
		put(rec, "id", s.str("Id", "ID"))
		put(rec, "status", strings.ToLower(s.str("Status")))
		put(rec, "description", s.str("Description"))
		if amount, ok := s.int("Amount"); ok {
			rec["amount"] = amount
		}
		put(rec, "currency", s.str("Currency"))
		put(rec, "interval", strings.ToLower(s.str("Interval")))
		if period, ok := s.int("Period"); ok {
			rec["period"] = period
		}
		if t := s.time("StartDate", "StartAt"); !t.IsZero() {
			rec["start_date"] = ecommpayDate(t)
		}
		if t := s.time("NextTransactionDate", "NextTransactionAt"); !t.IsZero() {
			rec["next_date"] = ecommpayDate(t)
		}
		data["recurring"] = rec
		customer := map[string]any{}
		put(customer, "id", s.str("AccountId"))
		put(data, "customer", customer)
	} else {
		p := ev.Payment
		payment := map[string]any{"type": "purchase", "method": "card"}
		put(payment, "id", cmp.Or(p.InvoiceID, p.ID))
		put(payment, "date", ecommpayDate(p.CreatedAt))
		payment["sum"] = map[string]any{"amount": p.Amount, "currency": p.Currency}
		put(payment, "description", p.Description)

		op := map[string]any{"id": p.TransactionID, "status": "success", "code": "0", "message": "Success"}
		date := p.UpdatedAt
		sum := p.Amount
		switch ev.Type {
		case TypePay:
			op["type"], payment["status"] = "sale", "success"
			if p.TwoStage {
				op["type"], payment["status"] = "auth", "awaiting capture"
			}
		case TypeFail:
			op["type"], payment["status"] = "sale", "decline"
			if p.TwoStage {
				op["type"] = "auth"
			}
			op["status"], op["code"], op["message"] = "decline", strconv.Itoa(p.ReasonCode), p.Reason
			if p.Reason == "" {
				delete(op, "message")
			}
		case TypeConfirm:
			op["type"], payment["status"], sum = "capture", "success", p.CapturedAmount
		case TypeCancel:
			op["type"], payment["status"] = "cancel", "cancelled"
		case TypeRefund:
			op["type"], op["id"], sum, date = "refund", ev.Refund.TransactionID, ev.Refund.Amount, ev.Refund.CreatedAt
			payment["status"] = "partially refunded"
			if p.RefundedAmount >= p.CapturedAmount {
				payment["status"] = "refunded"
			}
		default:
			return nil, fmt.Errorf("ecommpay format has no %s notification", ev.Type)
		}
		if date.IsZero() {
			date = ev.CreatedAt
		}
		op["date"] = ecommpayDate(date)
		op["sum_initial"] = map[string]any{"amount": sum, "currency": p.Currency}
		op["sum_converted"] = map[string]any{"amount": sum, "currency": p.Currency}
		if p.AuthCode != "" {
			op["provider"] = map[string]any{"payment_id": p.ID, "auth_code": p.AuthCode}
		}
		data["payment"], data["operation"] = payment, op

		if p.CardLastFour != "" {
			acc := map[string]any{"number": store.CardMask(p.CardFirstSix, p.CardLastFour)}
			put(acc, "type", strings.ToLower(p.CardBrand))
			put(acc, "card_holder", p.CardholderName)
			put(acc, "token", p.TokenID)
			if p.CardExpMonth > 0 {
				acc["expiry_month"] = fmt.Sprintf("%02d", p.CardExpMonth)
				acc["expiry_year"] = strconv.Itoa(p.CardExpYear)
			}
			data["account"] = acc
		}
		customer := map[string]any{}
		put(customer, "id", p.AccountID)
		put(customer, "email", p.Email)
		put(customer, "ip_address", p.IPAddress)
		put(data, "customer", customer)
	}
	data["signature"] = EcommpaySignature(secret, data)
	return json.Marshal(data)
}
