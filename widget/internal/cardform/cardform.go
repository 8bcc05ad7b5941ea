// Package cardform is the payment form's logic without the DOM: it groups
// the card number as the payer types and names its brand, formats the
// expiry, and checks the fields with package cryptogram's rules, naming each
// error by the form field it belongs to. The WebAssembly widget calls it
// through a thin syscall/js layer; here it is plain Go with plain tests.
package cardform

import (
	"strings"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// The form's fields, as the widget's inputs are named in its code (the
// inputs themselves carry no name attribute).
const (
	Number = "number"
	Expiry = "expiry"
	CVV    = "cvv"
	Name   = "name"
)

// Digits keeps the ASCII digits of s.
func Digits(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// MaxDigits is the longest number a brand issues; typing stops there.
func MaxDigits(b cryptogram.Brand) int {
	switch b {
	case cryptogram.BrandAmex:
		return 15
	case cryptogram.BrandMastercard:
		return 16
	}
	return cryptogram.MaxPANLen
}

// usualDigits is the length most cards of a brand have: once the payer has
// typed that many digits, an invalid number is shown as such without
// waiting for the field to lose focus.
func usualDigits(b cryptogram.Brand) int {
	if b == cryptogram.BrandAmex {
		return 15
	}
	return 16
}

// FormatNumber groups the digits of a typed card number as they are
// printed on the card — 4-6-5 for American Express, fours for the others —
// cut at the brand's longest number, and returns the brand detected so far.
func FormatNumber(s string) (text string, brand cryptogram.Brand) {
	d := Digits(s)
	brand = cryptogram.DetectBrand(d)
	if n := MaxDigits(brand); len(d) > n {
		d = d[:n]
	}
	groups := []int{4, 4, 4, 4, 4}
	if brand == cryptogram.BrandAmex {
		groups = []int{4, 6, 5}
	}
	var b strings.Builder
	for _, g := range groups {
		if d == "" {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		n := min(g, len(d))
		b.WriteString(d[:n])
		d = d[n:]
	}
	if d != "" { // beyond the groups (not reached with the lengths above)
		b.WriteByte(' ')
		b.WriteString(d)
	}
	return b.String(), brand
}

// FormatExpiry formats a typed expiry as "MM / YY": a first digit above 1
// is a month of its own ("4" → "04 / "), at most four digits are kept.
// deleting is true when the payer is erasing, so the separator is not
// put back behind the caret.
func FormatExpiry(s string, deleting bool) string {
	d := Digits(s)
	if len(d) == 1 && d[0] > '1' {
		d = "0" + d
	}
	if len(d) > 4 {
		d = d[:4]
	}
	switch {
	case len(d) < 2:
		return d
	case len(d) == 2 && deleting:
		return d
	case len(d) == 2:
		return d + " / "
	}
	return d[:2] + " / " + d[2:]
}

// SplitExpiry returns the month and year of a formatted or raw expiry
// ("12 / 29", "12/29", "1229").
func SplitExpiry(s string) (month, year string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	}
	d := Digits(s)
	if len(d) <= 2 {
		return d, ""
	}
	return d[:2], d[2:]
}

// Check validates the form's fields at now and returns the card, or the
// errors keyed by form field (Number, Expiry, CVV, Name) with the
// cryptogram package's CloudPayments codes (CardNumber_Invalid, …). The
// expiry's codes (ExpDateMonthYear_…, ExpDateMonth_…, ExpDateYear_…) all
// belong to the one Expiry field.
func Check(number, expiry, cvv, name string, now time.Time) (cryptogram.Card, map[string]string) {
	month, year := SplitExpiry(expiry)
	card, err := cryptogram.ParseCard(number, month, year, cvv, name, now)
	if err == nil {
		return card, nil
	}
	fe, ok := err.(cryptogram.FieldErrors)
	if !ok {
		return cryptogram.Card{}, map[string]string{Number: cryptogram.CodeCardNumberInvalid}
	}
	out := make(map[string]string, len(fe))
	// The pair's code wins over a single part's: "the card has expired"
	// says more than "the month is wrong".
	for _, f := range []string{cryptogram.FieldExpDateMonth, cryptogram.FieldExpDateYear, cryptogram.FieldExpDateMonthYear} {
		if c, ok := fe[f]; ok {
			out[Expiry] = c
		}
	}
	if c, ok := fe[cryptogram.FieldCardNumber]; ok {
		out[Number] = c
	}
	if c, ok := fe[cryptogram.FieldCvv]; ok {
		out[CVV] = c
	}
	if c, ok := fe[cryptogram.FieldName]; ok {
		out[Name] = c
	}
	return cryptogram.Card{}, out
}

// Complete says whether the payer has finished typing a field, so that its
// error may be shown while they type (before the field loses focus): the
// number at its brand's usual length, the expiry at four digits, the CVV at
// its brand's length.
func Complete(field, value, number string) bool {
	d := Digits(value)
	switch field {
	case Number:
		return len(d) >= usualDigits(cryptogram.DetectBrand(d))
	case Expiry:
		return len(d) >= 4
	case CVV:
		n := cryptogram.DetectBrand(Digits(number)).CVVLen()
		if n == 0 {
			n = 4
		}
		return len(d) >= n
	}
	return false
}
