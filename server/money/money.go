// Package money converts altyn's amounts — int64 minor units of an ISO 4217
// currency everywhere inside — to and from the decimal major units that
// people and some gateways' wire formats use.
package money

import (
	"errors"
	"math/big"
	"regexp"
	"strings"
)

// exponents lists the ISO 4217 currencies whose minor unit is not 1/100.
var exponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// Exponent is the number of decimal digits of the currency's minor unit:
// 2 for RUB, 0 for JPY, 3 for KWD.
func Exponent(currency string) int {
	if exp, ok := exponents[currency]; ok {
		return exp
	}
	return 2
}

// Decimal renders minor units in major units with the currency's digits:
// 150000 RUB → "1500.00", 500 JPY → "500", 1234 KWD → "1.234". It works on
// integers only: no float ever rounds money.
func Decimal(minor int64, currency string) string {
	exp := Exponent(currency)
	sign := ""
	if minor < 0 {
		sign = "-"
	}
	s := new(big.Int).Abs(big.NewInt(minor)).String() // -minor overflows for MinInt64
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// decimal is a plain non-negative decimal amount, as JSON numbers and the
// widget write it.
var decimal = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,6})?$`)

// Errors of Parse.
var (
	ErrNotAmount = errors.New("not an amount")
	ErrPrecision = errors.New("not an amount in this currency")
)

// Parse turns a decimal amount in major units ("1000", "1000.5") into
// minor units, exactly. More decimals than the currency has (or more than
// an int64 holds) is ErrPrecision; anything but digits and one point is
// ErrNotAmount.
func Parse(s, currency string) (int64, error) {
	s = strings.TrimSpace(s)
	if !decimal.MatchString(s) {
		return 0, ErrNotAmount
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, ErrNotAmount
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(Exponent(currency))), nil)))
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, ErrPrecision
	}
	return r.Num().Int64(), nil
}
