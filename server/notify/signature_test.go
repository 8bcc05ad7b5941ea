package notify_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/altynpay/altyn/server/notify"
)

// TestEcommpayVector reproduces the test vector of SPEC.md §2.
func TestEcommpayVector(t *testing.T) {
	t.Parallel()
	const data = `{"customer":{"project_id":0,"id":"sutm_id"},
		"card":{"pan":"4242424242424242","year":2020,"month":8,"card_holder":"John Smith","cvv":"123","save":true},
		"frame_mode":"popup"}`
	const joined = "card:card_holder:John Smith;card:cvv:123;card:month:8;card:pan:4242424242424242;card:save:1;card:year:2020;customer:id:sutm_id;customer:project_id:0"
	const signature = "lY0LTSAzpR7zGce5qfYGacOuYlHGWqkMcQlqmjlsDDZI2gVcE1qVeWANnkIR7mdOqRXJnL1kO0lUmkQ0YYLWRg=="
	for _, numbers := range []string{"json.Number", "float64"} {
		t.Run(numbers, func(t *testing.T) {
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(data))
			if numbers == "json.Number" {
				d.UseNumber()
			}
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if got := notify.EcommpayJoined(m); got != joined {
				t.Errorf("joined:\n got %s\nwant %s", got, joined)
			}
			if got := notify.EcommpaySignature("secret", m); got != signature {
				t.Errorf("signature: got %s, want %s", got, signature)
			}
		})
	}
}

// TestEcommpayOrder checks the level-by-level key order: integer-like keys
// first in numeric order, arrays by index, then the rest in byte order;
// numbers as their shortest text; null as empty.
func TestEcommpayOrder(t *testing.T) {
	t.Parallel()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(`{"b":{"10":"x","2":"y","a":"z","B":"w"},"a":[true,false,null],"amount":1000.50,"signature":"ignored"}`))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	const want = "a:0:1;a:1:0;a:2:;amount:1000.5;b:2:y;b:10:x;b:B:w;b:a:z"
	if got := notify.EcommpayJoined(m); got != want {
		t.Errorf("joined:\n got %s\nwant %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1","type":"Pay"}`)
	good := notify.Sign("sk_secret", body, now)
	cases := []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		want                 error
	}{
		{"valid", "sk_secret", good, body, now, nil},
		{"valid within tolerance", "sk_secret", good, body, now.Add(4 * time.Minute), nil},
		{"rotated secret among two", "sk_secret", "t=1767225600, v1=" + strings.Repeat("ab", 32) + "," + strings.TrimPrefix(good, "t=1767225600,"), body, now, nil},
		{"tampered body", "sk_secret", good, []byte(`{"id":"evt_1","type":"Fail"}`), now, notify.ErrSignatureMismatch},
		{"wrong secret", "sk_other", good, body, now, notify.ErrSignatureMismatch},
		{"replayed later", "sk_secret", good, body, now.Add(6 * time.Minute), notify.ErrSignatureExpired},
		{"from the future", "sk_secret", good, body, now.Add(-6 * time.Minute), notify.ErrSignatureExpired},
		{"missing", "sk_secret", "", body, now, notify.ErrBadSignatureHeader},
		{"no v1", "sk_secret", "t=1767225600", body, now, notify.ErrBadSignatureHeader},
		{"no t", "sk_secret", strings.TrimPrefix(good, "t=1767225600, "), body, now, notify.ErrBadSignatureHeader},
		{"short v1", "sk_secret", "t=1767225600, v1=abcd", body, now, notify.ErrBadSignatureHeader},
		{"t changed", "sk_secret", strings.Replace(good, "t=1767225600", "t=1767225601", 1), body, now, notify.ErrSignatureMismatch},
		{"t not canonical", "sk_secret", strings.Replace(good, "t=1767225600", "t=01767225600", 1), body, now, notify.ErrBadSignatureHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := notify.Verify(c.secret, c.header, c.body, 5*time.Minute, c.at)
			if !errors.Is(err, c.want) {
				t.Errorf("Verify(%q): got %v, want %v", c.header, err, c.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1"}`)
	f.Add(notify.Sign("sk", body, now), body)
	f.Add("t=1, v1=00", []byte{})
	f.Add("t=, v1=,,=", []byte("x"))
	f.Add("v1="+strings.Repeat("0", 64)+", t=-1", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := notify.Verify("sk", header, body, time.Minute, now)
		if err == nil && notify.Sign("sk", body, now) != header && !strings.Contains(header, "v1=") {
			t.Errorf("Verify accepted %q without a v1", header)
		}
	})
}
