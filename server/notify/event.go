package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/altynpay/altyn/store"
)

// event is what a notification is about: a payment (with a refund for
// Refund), or a subscription for Recurrent. It is decoded from an outbox
// row's payload (payments.Event's JSON, or {"id", "type", "subscription",
// "created_at"} for Recurrent) or built for a Check.
type event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Payment      *store.Payment  `json:"payment"`
	Refund       *store.Refund   `json:"refund"`
	Subscription json.RawMessage `json:"subscription"`
	CreatedAt    time.Time       `json:"created_at"`
}

// decodeEvent reads an outbox message. The row's id and type are
// authoritative over what the payload says.
func decodeEvent(m store.OutboxMessage) (*event, error) {
	var ev event
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		return nil, fmt.Errorf("decode outbox %s: %w", m.ID, err)
	}
	ev.ID, ev.Type = m.ID, m.Type
	if ev.Payment != nil && string(ev.Payment.Data) == "null" {
		ev.Payment.Data = nil // a payment without data, as JSON wrote it
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = m.CreatedAt
	}
	ev.CreatedAt = ev.CreatedAt.UTC()
	switch {
	case ev.Type == TypeRecurrent:
		if len(ev.Subscription) == 0 || ev.Subscription[0] != '{' {
			return nil, fmt.Errorf("outbox %s: a Recurrent event without a subscription object", m.ID)
		}
	case ev.Payment == nil:
		return nil, fmt.Errorf("outbox %s: a %s event without a payment", m.ID, ev.Type)
	case ev.Type == TypeRefund && ev.Refund == nil:
		return nil, fmt.Errorf("outbox %s: a Refund event without a refund", m.ID)
	}
	return &ev, nil
}

// subscription is a Recurrent event's subscription read leniently: its
// keys are matched without regard to case or underscores, so "AccountID",
// "accountId" and "account_id" are one field.
type subscription map[string]any

func decodeSubscription(raw json.RawMessage) (subscription, error) {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	out := subscription{}
	for k, v := range m {
		out[foldKey(k)] = v
	}
	return out, nil
}

func foldKey(k string) string {
	return strings.ToLower(strings.ReplaceAll(k, "_", ""))
}

// get returns the value of a field by any of its names.
func (s subscription) get(names ...string) (any, bool) {
	for _, n := range names {
		if v, ok := s[foldKey(n)]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

func (s subscription) str(names ...string) string {
	v, ok := s.get(names...)
	if !ok {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (s subscription) int(names ...string) (int64, bool) {
	v, ok := s.get(names...)
	if !ok {
		return 0, false
	}
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (s subscription) bool(names ...string) (bool, bool) {
	v, ok := s.get(names...)
	if !ok {
		return false, false
	}
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

func (s subscription) time(names ...string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s.str(names...))
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t.UTC()
}

// snakeKeys rewrites the keys of a JSON object (deeply) in snake_case, so a
// subscription marshalled with Go field names ("NextTransactionDate",
// "AccountID") reads as the rest of altyn's JSON does.
func snakeKeys(raw json.RawMessage) (json.RawMessage, error) {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(snakeValue(v))
}

func snakeValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[snake(k)] = snakeValue(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = snakeValue(v[i])
		}
	}
	return v
}

// snake turns "NextTransactionDate" into "next_transaction_date" and
// "AccountID" into "account_id"; snake_case stays as it is.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]))
			nextLower := i > 0 && i+1 < len(r) && unicode.IsUpper(r[i-1]) && unicode.IsLower(r[i+1])
			if (prevLower || nextLower) && b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
