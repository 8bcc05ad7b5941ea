package cryptogram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of the tests: 23 November 2026.
var testNow = time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)

// testCards are the sandbox cards of SPEC.md §1.5 and one card of each other
// brand, with the brand they must be detected as.
var testCards = []struct {
	pan   string
	brand Brand
}{
	{"4242424242424242", BrandVisa},
	{"5555555555554444", BrandMastercard},
	{"2200000000000004", BrandMIR},
	{"4012888888881881", BrandVisa},
	{"5105105105105100", BrandMastercard},
	{"2202202202202200", BrandMIR},
	{"4000000000003055", BrandVisa},
	{"5205000000003055", BrandMastercard},
	{"2202000000003055", BrandMIR},
	{"4111111111111111", BrandVisa},
	{"5200828282828210", BrandMastercard},
	{"2200000022222222", BrandMIR},
	{"4000056655665556", BrandVisa},
	{"5404000000000043", BrandMastercard},
	{"2203000000000043", BrandMIR},
	{"378282246310005", BrandAmex},
	{"6200000000000005", BrandUnionPay},
	{"3530111333300000", BrandJCB},
	{"6759649826438453", BrandMaestro},
}

func TestTestCards(t *testing.T) {
	t.Parallel()
	for _, tc := range testCards {
		t.Run(tc.pan, func(t *testing.T) {
			t.Parallel()
			if !luhnOK(tc.pan) {
				t.Errorf("luhnOK(%s) = false, want true", tc.pan)
			}
			if got := DetectBrand(tc.pan); got != tc.brand {
				t.Errorf("DetectBrand(%s) = %q, want %q", tc.pan, got, tc.brand)
			}
			c := Card{PAN: tc.pan, ExpMonth: 12, ExpYear: 2029, CVV: strings.Repeat("1", max(tc.brand.CVVLen(), 3))}
			if err := c.Validate(testNow); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tc.pan, err)
			}
		})
	}
}

func TestDetectBrand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Brand
	}{
		{"", BrandUnknown},
		{"4", BrandVisa},
		{"2", BrandUnknown}, // MIR or Mastercard: not yet known
		{"22", BrandUnknown},
		{"2200", BrandMIR},
		{"2204 12", BrandMIR},
		{"2205", BrandUnknown},
		{"2221", BrandMastercard},
		{"2720", BrandMastercard},
		{"2721", BrandUnknown},
		{"51", BrandMastercard},
		{"55", BrandMastercard},
		{"56", BrandMaestro},
		{"34", BrandAmex},
		{"37", BrandAmex},
		{"35", BrandUnknown},
		{"3528", BrandJCB},
		{"3589", BrandJCB},
		{"3590", BrandUnknown},
		{"62", BrandUnionPay},
		{"6011", BrandUnknown}, // Discover is not one of ours
		{"67", BrandMaestro},
		{"5018", BrandMaestro},
		{"4242-4242", BrandVisa},
		{"x4242", BrandUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := DetectBrand(tc.in); got != tc.want {
				t.Errorf("DetectBrand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseCard(t *testing.T) {
	t.Parallel()
	type in struct{ number, month, year, cvv, name string }
	tests := []struct {
		name string
		in   in
		want FieldErrors // nil: valid
		card Card        // checked when valid
	}{
		{"visa with spaces", in{"4242 4242 4242 4242", "12", "29", "123", "IVAN PETROV"}, nil,
			Card{PAN: "4242424242424242", ExpMonth: 12, ExpYear: 2029, CVV: "123", Name: "IVAN PETROV"}},
		{"mastercard with dashes, four-digit year", in{"5555-5555-5555-4444", "1", "2027", "000", ""}, nil,
			Card{PAN: "5555555555554444", ExpMonth: 1, ExpYear: 2027, CVV: "000"}},
		{"mir expiring this month", in{"2200000000000004", "11", "26", "123", ""}, nil,
			Card{PAN: "2200000000000004", ExpMonth: 11, ExpYear: 2026, CVV: "123"}},
		{"amex four-digit cvv", in{"3782 822463 10005", "01", "30", "1234", ""}, nil,
			Card{PAN: "378282246310005", ExpMonth: 1, ExpYear: 2030, CVV: "1234"}},
		{"maestro without cvv", in{"6759649826438453", "6", "28", "", ""}, nil,
			Card{PAN: "6759649826438453", ExpMonth: 6, ExpYear: 2028}},
		{"unionpay", in{"6200 0000 0000 0005", "07", "31", "321", ""}, nil,
			Card{PAN: "6200000000000005", ExpMonth: 7, ExpYear: 2031, CVV: "321"}},
		{"jcb", in{"3530 1113 3330 0000", "02", "2046", "555", ""}, nil,
			Card{PAN: "3530111333300000", ExpMonth: 2, ExpYear: 2046, CVV: "555"}},
		{"unknown brand passing luhn", in{"6011111111111117", "12", "29", "123", ""}, nil,
			Card{PAN: "6011111111111117", ExpMonth: 12, ExpYear: 2029, CVV: "123"}},
		{"trimmed fields, tabs, no-break spaces, doubled spaces in name", in{"\t4000\u00a00000 0000 3055 ", " 3 ", " 27 ", " 999 ", "  Anna  Maria O'Neil-Smith Jr. "}, nil,
			Card{PAN: "4000000000003055", ExpMonth: 3, ExpYear: 2027, CVV: "999", Name: "Anna Maria O'Neil-Smith Jr."}},
		{"empty number", in{"", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberEmpty}, Card{}},
		{"only spaces as number", in{"   ", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberEmpty}, Card{}},
		{"luhn failure", in{"4242424242424241", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"letters in number", in{"4242abcd42424242", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"too short", in{"42424242", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"too long", in{"42424242424242424242", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"visa of 15 digits passing luhn", in{"424242424242428", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"mastercard of 17 digits passing luhn", in{"55555555555544442", "12", "29", "123", ""}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}, Card{}},
		{"missing cvv", in{"4242424242424242", "12", "29", "", ""}, FieldErrors{FieldCvv: CodeCvvEmpty}, Card{}},
		{"cvv with a letter", in{"4242424242424242", "12", "29", "12a", ""}, FieldErrors{FieldCvv: CodeCvvInvalid}, Card{}},
		{"four-digit cvv on visa", in{"4242424242424242", "12", "29", "1234", ""}, FieldErrors{FieldCvv: CodeCvvInvalid}, Card{}},
		{"three-digit cvv on amex", in{"378282246310005", "12", "29", "123", ""}, FieldErrors{FieldCvv: CodeCvvInvalid}, Card{}},
		{"maestro with a short cvv", in{"6759649826438453", "12", "29", "12", ""}, FieldErrors{FieldCvv: CodeCvvInvalid}, Card{}},
		{"no expiry", in{"4242424242424242", "", "", "123", ""}, FieldErrors{FieldExpDateMonthYear: CodeExpDateMonthYearEmpty}, Card{}},
		{"no month", in{"4242424242424242", "", "29", "123", ""}, FieldErrors{FieldExpDateMonth: CodeExpDateMonthEmpty}, Card{}},
		{"no year", in{"4242424242424242", "12", "", "123", ""}, FieldErrors{FieldExpDateYear: CodeExpDateYearEmpty}, Card{}},
		{"month 13", in{"4242424242424242", "13", "29", "123", ""}, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid}, Card{}},
		{"month 0", in{"4242424242424242", "0", "29", "123", ""}, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid}, Card{}},
		{"month in letters", in{"4242424242424242", "ab", "29", "123", ""}, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid}, Card{}},
		{"bad month and no year", in{"4242424242424242", "13", "", "123", ""}, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid, FieldExpDateYear: CodeExpDateYearEmpty}, Card{}},
		{"past year", in{"4242424242424242", "12", "2025", "123", ""}, FieldErrors{FieldExpDateYear: CodeExpDateYearInvalid}, Card{}},
		{"expired last month", in{"4242424242424242", "10", "26", "123", ""}, FieldErrors{FieldExpDateMonthYear: CodeExpDateMonthYearInvalid}, Card{}},
		{"three-digit year", in{"4242424242424242", "12", "202", "123", ""}, FieldErrors{FieldExpDateYear: CodeExpDateYearInvalid}, Card{}},
		{"year 0000", in{"4242424242424242", "12", "0000", "123", ""}, FieldErrors{FieldExpDateYear: CodeExpDateYearInvalid}, Card{}},
		{"year too far ahead", in{"4242424242424242", "12", "2050", "123", ""}, FieldErrors{FieldExpDateYear: CodeExpDateYearInvalid}, Card{}},
		{"name too short", in{"4242424242424242", "12", "29", "123", "I"}, FieldErrors{FieldName: CodeNameTooShort}, Card{}},
		{"name too long", in{"4242424242424242", "12", "29", "123", strings.Repeat("A", 101)}, FieldErrors{FieldName: CodeNameTooLong}, Card{}},
		{"cyrillic name", in{"4242424242424242", "12", "29", "123", "Иван Петров"}, FieldErrors{FieldName: CodeNameInvalid}, Card{}},
		{"digit in name", in{"4242424242424242", "12", "29", "123", "J0HN SMITH"}, FieldErrors{FieldName: CodeNameInvalid}, Card{}},
		{"name of punctuation only", in{"4242424242424242", "12", "29", "123", "--"}, FieldErrors{FieldName: CodeNameInvalid}, Card{}},
		{"everything empty", in{"", "", "", "", ""}, FieldErrors{FieldCardNumber: CodeCardNumberEmpty, FieldCvv: CodeCvvEmpty, FieldExpDateMonthYear: CodeExpDateMonthYearEmpty}, Card{}},
		{"everything wrong", in{"1234", "00", "1", "x", "?"}, FieldErrors{FieldCardNumber: CodeCardNumberInvalid, FieldCvv: CodeCvvInvalid, FieldExpDateMonth: CodeExpDateMonthInvalid, FieldExpDateYear: CodeExpDateYearInvalid, FieldName: CodeNameInvalid}, Card{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCard(tc.in.number, tc.in.month, tc.in.year, tc.in.cvv, tc.in.name, testNow)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParseCard(%+v) error = %v, want nil", tc.in, err)
				}
				if got != tc.card {
					t.Errorf("ParseCard(%+v) = %#v, want %#v", tc.in, got, tc.card)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("ParseCard(%+v) error = %v, want FieldErrors %v", tc.in, err, tc.want)
			}
			if !maps.Equal(fe, tc.want) {
				t.Errorf("ParseCard(%+v) = %v, want %v", tc.in, map[string]string(fe), map[string]string(tc.want))
			}
			if got != (Card{}) {
				t.Errorf("ParseCard(%+v) card = %#v, want the zero Card", tc.in, got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := Card{PAN: "4242424242424242", ExpMonth: 12, ExpYear: 2029, CVV: "123"}
	tests := []struct {
		name   string
		modify func(*Card)
		want   FieldErrors
	}{
		{"valid", func(*Card) {}, nil},
		{"month 13", func(c *Card) { c.ExpMonth = 13 }, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid}},
		{"negative month", func(c *Card) { c.ExpMonth = -1 }, FieldErrors{FieldExpDateMonth: CodeExpDateMonthInvalid}},
		{"two-digit year", func(c *Card) { c.ExpYear = 29 }, FieldErrors{FieldExpDateYear: CodeExpDateYearInvalid}},
		{"no month", func(c *Card) { c.ExpMonth = 0 }, FieldErrors{FieldExpDateMonth: CodeExpDateMonthEmpty}},
		{"no year", func(c *Card) { c.ExpYear = 0 }, FieldErrors{FieldExpDateYear: CodeExpDateYearEmpty}},
		{"spaces in PAN", func(c *Card) { c.PAN = "4242 4242 4242 4242" }, FieldErrors{FieldCardNumber: CodeCardNumberInvalid}},
		{"name with a trailing space", func(c *Card) { c.Name = "IVAN " }, FieldErrors{FieldName: CodeNameInvalid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tc.modify(&c)
			err := c.Validate(testNow)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) || !maps.Equal(fe, tc.want) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFieldErrorsMessage(t *testing.T) {
	t.Parallel()
	err := FieldErrors{FieldName: CodeNameTooShort, FieldCvv: CodeCvvEmpty, FieldCardNumber: CodeCardNumberInvalid}
	want := "cryptogram: invalid card: CardNumber_Invalid, Cvv_Empty, Name_TooShort"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pan, mask, first6, last4 string
	}{
		{"4242424242424242", "424242******4242", "424242", "4242"},
		{"378282246310005", "378282*****0005", "378282", "0005"},
		{"675964982643", "675964**2643", "675964", "2643"},
		{"2200000000000000004", "220000*********0004", "220000", "0004"},
		{"42424242424", "***********", "", ""},                 // too short to show anything
		{"4242 4242 4242 4242", "*******************", "", ""}, // not digits only
		{"", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.pan, func(t *testing.T) {
			t.Parallel()
			c := Card{PAN: tc.pan}
			if got := c.Mask(); got != tc.mask {
				t.Errorf("Mask(%q) = %q, want %q", tc.pan, got, tc.mask)
			}
			if got := c.First6(); got != tc.first6 {
				t.Errorf("First6(%q) = %q, want %q", tc.pan, got, tc.first6)
			}
			if got := c.Last4(); got != tc.last4 {
				t.Errorf("Last4(%q) = %q, want %q", tc.pan, got, tc.last4)
			}
		})
	}
}

// TestRedaction formats a card every way we know of and checks that the
// PAN, CVV and name never appear.
func TestRedaction(t *testing.T) {
	t.Parallel()
	c := Card{PAN: "4000056655665556", ExpMonth: 7, ExpYear: 2029, CVV: "987", Name: "IVAN PETROV"}
	type holder struct {
		Card  Card
		Other string
	}
	type ptrHolder struct{ Card *Card }
	h := holder{Card: c, Other: "x"}
	o := &Opened{Card: c, KeyID: "k1"}
	outputs := map[string]string{
		"%v":                 fmt.Sprintf("%v", c),
		"%+v":                fmt.Sprintf("%+v", c),
		"%#v":                fmt.Sprintf("%#v", c),
		"%s":                 fmt.Sprintf("%s", c),
		"%q":                 fmt.Sprintf("%q", c),
		"%x":                 fmt.Sprintf("%x", c),
		"%d":                 fmt.Sprintf("%d", c),
		"%T %v pointer":      fmt.Sprintf("%v", &c),
		"%#v pointer":        fmt.Sprintf("%#v", &c),
		"Sprint":             fmt.Sprint(c),
		"Sprint pointer":     fmt.Sprint(&c),
		"Sprintln":           fmt.Sprintln(c, &c),
		"String":             c.String(),
		"struct %v":          fmt.Sprintf("%v", h),
		"struct %+v":         fmt.Sprintf("%+v", h),
		"struct %#v":         fmt.Sprintf("%#v", h),
		"struct Sprint":      fmt.Sprint(h),
		"struct pointer":     fmt.Sprint(&h),
		"struct of pointer":  fmt.Sprintf("%+v", ptrHolder{&c}),
		"slice":              fmt.Sprint([]Card{c}),
		"map":                fmt.Sprintf("%#v", map[string]Card{"c": c}),
		"Opened %+v":         fmt.Sprintf("%+v", o),
		"Opened %#v":         fmt.Sprintf("%#v", *o),
		"error wrapping %v":  fmt.Errorf("charge %v: %w", c, ErrDecrypt).Error(),
		"LogValue":           logValue(c),
		"json":               mustJSON(t, c),
		"json struct":        mustJSON(t, h),
		"slog json":          logWith(slog.NewJSONHandler, "card", c),
		"slog text":          logWith(slog.NewTextHandler, "card", c),
		"slog json pointer":  logWith(slog.NewJSONHandler, "card", &c),
		"slog text pointer":  logWith(slog.NewTextHandler, "card", &c),
		"slog json struct":   logWith(slog.NewJSONHandler, "h", h),
		"slog text struct":   logWith(slog.NewTextHandler, "h", h),
		"slog json opened":   logWith(slog.NewJSONHandler, "opened", o),
		"slog text opened":   logWith(slog.NewTextHandler, "opened", o),
		"slog text Sprint":   logWith(slog.NewTextHandler, "msg", fmt.Sprint(c)),
		"FieldErrors of bad": errorOf(ParseCard("4000056655665557", "7", "29", "987", "IVAN PETROV", testNow)),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			for _, secret := range []string{c.PAN, "4000056655665557", c.CVV, c.Name, "665566"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s output %q contains %q", name, out, secret)
				}
			}
		})
	}
	// The redacted forms still say something useful.
	for verb, want := range map[string]string{
		"%v":  "Visa 400005******5556 07/2029",
		"%+v": "{Brand:Visa PAN:400005******5556 ExpMonth:7 ExpYear:2029 CVV:[redacted] Name:[redacted]}",
		"%#v": `cryptogram.Card{PAN:"400005******5556", ExpMonth:7, ExpYear:2029, CVV:"[redacted]", Name:"[redacted]"}`,
	} {
		if got := fmt.Sprintf(verb, c); got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
	if got, want := mustJSON(t, c), `{"brand":"Visa","mask":"400005******5556","exp":"07/2029"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	var nilCard *Card
	if got := fmt.Sprint(nilCard); got != "<nil>" {
		t.Errorf("Sprint(nil *Card) = %q, want <nil>", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(b)
}

func logWith[H slog.Handler](newHandler func(io.Writer, *slog.HandlerOptions) H, key string, v any) string {
	var buf bytes.Buffer
	slog.New(newHandler(&buf, nil)).Info("paid", key, v)
	return buf.String()
}

func errorOf(_ Card, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// logValue resolves v's LogValue. The method is absent on js/wasm (see
// logvalue.go); the tests run on the server's platforms, where it must exist.
func logValue(v any) string {
	lv, ok := v.(slog.LogValuer)
	if !ok {
		return ""
	}
	return lv.LogValue().String()
}

func TestLogValuer(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "js" {
		t.Skip("LogValue is left out of js/wasm builds")
	}
	c := Card{PAN: "4000056655665556", ExpMonth: 7, ExpYear: 2029, CVV: "987"}
	if got, want := logValue(c), "[brand=Visa mask=400005******5556 exp=07/2029]"; got != want {
		t.Errorf("LogValue = %q, want %q", got, want)
	}
	if _, ok := any(PrivateKey{}).(slog.LogValuer); !ok {
		t.Error("PrivateKey does not implement slog.LogValuer")
	}
}
