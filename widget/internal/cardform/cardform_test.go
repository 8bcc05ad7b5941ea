package cardform

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/altynpay/altyn/cryptogram"
)

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		brand    cryptogram.Brand
	}{
		{"", "", cryptogram.BrandUnknown},
		{"4", "4", cryptogram.BrandVisa},
		{"42424", "4242 4", cryptogram.BrandVisa},
		{"4242424242424242", "4242 4242 4242 4242", cryptogram.BrandVisa},
		{"4242 4242-4242x4242", "4242 4242 4242 4242", cryptogram.BrandVisa},
		{"4242424242424242424", "4242 4242 4242 4242 424", cryptogram.BrandVisa},
		{"42424242424242424242", "4242 4242 4242 4242 424", cryptogram.BrandVisa}, // 20 digits: cut at 19
		{"378282246310005", "3782 822463 10005", cryptogram.BrandAmex},
		{"3782822463100059", "3782 822463 10005", cryptogram.BrandAmex}, // cut at 15
		{"55555555555544449", "5555 5555 5555 4444", cryptogram.BrandMastercard},
		{"2200000000000004", "2200 0000 0000 0004", cryptogram.BrandMIR},
		{"2", "2", cryptogram.BrandUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, brand := FormatNumber(tt.in)
			if got != tt.want || brand != tt.brand {
				t.Errorf("FormatNumber(%q) = %q, %q; want %q, %q", tt.in, got, brand, tt.want, tt.brand)
			}
		})
	}
}

func TestFormatExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		deleting bool
		want     string
	}{
		{"", false, ""},
		{"1", false, "1"},
		{"4", false, "04 / "},
		{"12", false, "12 / "},
		{"12", true, "12"},
		{"12 / 2", false, "12 / 2"},
		{"1229", false, "12 / 29"},
		{"12/295", false, "12 / 29"},
		{"ab", false, ""},
	}
	for _, tt := range tests {
		if got := FormatExpiry(tt.in, tt.deleting); got != tt.want {
			t.Errorf("FormatExpiry(%q, %v) = %q, want %q", tt.in, tt.deleting, got, tt.want)
		}
	}
}

func TestSplitExpiry(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"12 / 29": {"12", "29"}, "12/2029": {"12", "2029"}, "1229": {"12", "29"}, "1": {"1", ""}, "": {"", ""},
	} {
		if m, y := SplitExpiry(in); m != want[0] || y != want[1] {
			t.Errorf("SplitExpiry(%q) = %q, %q; want %q, %q", in, m, y, want[0], want[1])
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                       string
		number, expiry, cvv, cname string
		want                       map[string]string
	}{
		{"valid", "4242 4242 4242 4242", "12 / 29", "123", "", nil},
		{"valid with name", "4000000000003055", "1129", "123", "IVAN PETROV", nil},
		{"empty", "", "", "", "", map[string]string{
			Number: cryptogram.CodeCardNumberEmpty, Expiry: cryptogram.CodeExpDateMonthYearEmpty, CVV: cryptogram.CodeCvvEmpty}},
		{"luhn", "4242 4242 4242 4241", "12 / 29", "123", "", map[string]string{Number: cryptogram.CodeCardNumberInvalid}},
		{"expired this year", "4242424242424242", "10 / 26", "123", "", map[string]string{Expiry: cryptogram.CodeExpDateMonthYearInvalid}},
		{"bad month", "4242424242424242", "13 / 29", "123", "", map[string]string{Expiry: cryptogram.CodeExpDateMonthInvalid}},
		{"past year", "4242424242424242", "12 / 25", "123", "", map[string]string{Expiry: cryptogram.CodeExpDateYearInvalid}},
		{"month only", "4242424242424242", "12 / ", "123", "", map[string]string{Expiry: cryptogram.CodeExpDateYearEmpty}},
		{"amex cvv", "378282246310005", "12 / 29", "123", "", map[string]string{CVV: cryptogram.CodeCvvInvalid}},
		{"bad name", "4242424242424242", "12 / 29", "123", "Иван", map[string]string{Name: cryptogram.CodeNameInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, got := Check(tt.number, tt.expiry, tt.cvv, tt.cname, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q, %q, %q, %q) errors (-want +got):\n%s", tt.number, tt.expiry, tt.cvv, tt.cname, diff)
			}
			if tt.want == nil && (card.PAN != Digits(tt.number) || card.ExpMonth == 0) {
				t.Errorf("Check(%q) card = %v, want the parsed card", tt.number, card)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field, value, number string
		want                 bool
	}{
		{Number, "4242 4242 4242 424", "", false},
		{Number, "4242 4242 4242 4242", "", true},
		{Number, "3782 822463 10005", "", true},
		{Expiry, "12 / 2", "", false},
		{Expiry, "12 / 29", "", true},
		{CVV, "12", "4242424242424242", false},
		{CVV, "123", "4242424242424242", true},
		{CVV, "123", "378282246310005", false},
		{CVV, "1234", "378282246310005", true},
		{CVV, "123", "", false},
		{Name, "X", "", false},
	}
	for _, tt := range tests {
		if got := Complete(tt.field, tt.value, tt.number); got != tt.want {
			t.Errorf("Complete(%s, %q, %q) = %v, want %v", tt.field, tt.value, tt.number, got, tt.want)
		}
	}
}
