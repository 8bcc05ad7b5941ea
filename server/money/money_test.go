package money

import (
	"errors"
	"math"
	"testing"
)

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{150000, "RUB", "1500.00"},
		{5, "RUB", "0.05"},
		{0, "USD", "0.00"},
		{-1999, "EUR", "-19.99"},
		{500, "JPY", "500"},
		{1234, "KWD", "1.234"},
		{7, "KWD", "0.007"},
		{12345, "CLF", "1.2345"},
		{100, "XXX", "1.00"}, // unknown currencies have two digits
		{math.MinInt64, "RUB", "-92233720368547758.08"},
	} {
		if got := Decimal(c.minor, c.currency); got != c.want {
			t.Errorf("Decimal(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in       string
		currency string
		want     int64
		err      error
	}{
		{"1000", "RUB", 100000, nil},
		{"1000.5", "RUB", 100050, nil},
		{" 0.01 ", "USD", 1, nil},
		{"500", "JPY", 500, nil},
		{"1.234", "KWD", 1234, nil},
		{"0.001", "RUB", 0, ErrPrecision},
		{"1.5", "JPY", 0, ErrPrecision},
		{"999999999999999", "CLF", 0, ErrPrecision}, // over int64 in minor units
		{"-1", "RUB", 0, ErrNotAmount},
		{"1e3", "RUB", 0, ErrNotAmount},
		{"1,5", "RUB", 0, ErrNotAmount},
		{"", "RUB", 0, ErrNotAmount},
	} {
		got, err := Parse(c.in, c.currency)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d, %v", c.in, c.currency, got, err, c.want, c.err)
		}
	}
}
