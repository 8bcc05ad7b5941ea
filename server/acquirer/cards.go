package acquirer

import (
	"strings"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// testCard is one row of the sandbox's test card table (SPEC.md §1.5).
type testCard struct {
	threeDS bool // Authorize answers Outcome3DS unless the payment skips 3-D Secure
	payment int  // reason code after 3-D Secure (or at once): 0 approves
	token   int  // reason code of a token (recurring) payment
}

// testCards are CloudPayments' test cards, which the sandbox answers the way
// CloudPayments' test mode does. Cards without a token payment ("—" in the
// table) decline token payments with insufficient funds too.
var testCards = map[string]testCard{
	"4242424242424242": {threeDS: true},
	"5555555555554444": {threeDS: true},
	"2200000000000004": {threeDS: true},
	"4012888888881881": {threeDS: true, payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
	"5105105105105100": {threeDS: true, payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
	"2202202202202200": {threeDS: true, payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
	"4000000000003055": {},
	"5205000000003055": {},
	"2202000000003055": {},
	"4111111111111111": {token: ReasonInsufficientFunds},
	"5200828282828210": {token: ReasonInsufficientFunds},
	"2200000022222222": {token: ReasonInsufficientFunds},
	"4000056655665556": {payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
	"5404000000000043": {payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
	"2203000000000043": {payment: ReasonInsufficientFunds, token: ReasonInsufficientFunds},
}

// cardRow returns how the sandbox treats a card number: the test card's row,
// an approving row without 3-D Secure for any other Luhn-valid number, and
// ok=false for a number that is not a card number at all.
func cardRow(pan string) (row testCard, ok bool) {
	if row, ok := testCards[pan]; ok {
		return row, true
	}
	return testCard{}, validPAN(pan)
}

// validPAN reports whether pan is 12–19 digits with a valid Luhn check digit.
func validPAN(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	sum := 0
	double := false
	for i := len(pan) - 1; i >= 0; i-- {
		c := pan[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// cardExpired reports whether a card valid through month/year (the year
// four digits, or two meaning 20yy) has expired at now, or the date is not a
// date. A card is valid to the end of its expiry month.
func cardExpired(month, year int, now time.Time) bool {
	if month < 1 || month > 12 || year < 0 {
		return true
	}
	if year < 100 {
		year += 2000
	}
	now = now.UTC()
	return year < now.Year() || year == now.Year() && month < int(now.Month())
}

// normalizePAN drops the spaces and dashes a card number is often written
// with.
func normalizePAN(pan string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, pan)
}

// brandName names the card network for the ACS page.
func brandName(c cryptogram.Card) string {
	if b := c.Brand(); b != cryptogram.BrandUnknown {
		return string(b)
	}
	return "Card"
}
