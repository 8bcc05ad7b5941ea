package cryptogram

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Card is the card data sealed in a cryptogram. It redacts itself in every
// formatted or logged form; only its fields carry the clear values.
//
// Redaction covers fmt (every verb, including %v, %+v, %#v and %s, also when
// the Card is an exported field of a printed struct or behind a pointer),
// log/slog (LogValue; on js/wasm, where LogValue is left out to keep slog
// out of the widget, slog's handlers still go through Format and
// MarshalJSON) and encoding/json (MarshalJSON). It cannot cover an
// unexported field of type Card inside another struct: fmt prints unexported
// fields by reflection without calling their methods, so never keep a Card in
// an unexported field of a value that may be printed.
type Card struct {
	PAN      string // digits only
	ExpMonth int    // 1–12
	ExpYear  int    // four digits, e.g. 2029
	CVV      string // optional; never stored
	Name     string // optional cardholder name
}

// Brand is a card network, detected from the leading digits of the PAN. Its
// values are the names the CloudPayments wire format uses for CardType.
type Brand string

// The brands altyn recognises. BrandUnknown is a number whose prefix matches
// none of them; such a number is still accepted when it is 12–19 digits long
// and passes the Luhn check, and the acquirer decides.
const (
	BrandVisa       Brand = "Visa"
	BrandMastercard Brand = "Mastercard"
	BrandMIR        Brand = "MIR"
	BrandMaestro    Brand = "Maestro"
	BrandAmex       Brand = "AmericanExpress"
	BrandUnionPay   Brand = "UnionPay"
	BrandJCB        Brand = "JCB"
	BrandUnknown    Brand = ""
)

// Field names of FieldErrors, as the CloudPayments checkout script names its
// inputs.
const (
	FieldCardNumber       = "CardNumber"
	FieldCvv              = "Cvv"
	FieldExpDateMonthYear = "ExpDateMonthYear"
	FieldExpDateMonth     = "ExpDateMonth"
	FieldExpDateYear      = "ExpDateYear"
	FieldName             = "Name"
)

// Error codes of FieldErrors: the CloudPayments checkout codes, so that a
// widget can show them field by field.
const (
	CodeCardNumberEmpty         = "CardNumber_Empty"
	CodeCardNumberInvalid       = "CardNumber_Invalid"
	CodeCvvEmpty                = "Cvv_Empty"
	CodeCvvInvalid              = "Cvv_Invalid"
	CodeExpDateMonthYearEmpty   = "ExpDateMonthYear_Empty"
	CodeExpDateMonthYearInvalid = "ExpDateMonthYear_Invalid"
	CodeExpDateMonthEmpty       = "ExpDateMonth_Empty"
	CodeExpDateMonthInvalid     = "ExpDateMonth_Invalid"
	CodeExpDateYearEmpty        = "ExpDateYear_Empty"
	CodeExpDateYearInvalid      = "ExpDateYear_Invalid"
	// CodeNameEmpty is never returned by this package, because the
	// cardholder name is optional here; it exists for forms that require it.
	CodeNameEmpty    = "Name_Empty"
	CodeNameInvalid  = "Name_Invalid"
	CodeNameTooLong  = "Name_TooLong"
	CodeNameTooShort = "Name_TooShort"
)

// Limits of the card checks.
const (
	MinPANLen  = 12  // shortest PAN accepted (Maestro)
	MaxPANLen  = 19  // longest PAN (ISO/IEC 7812)
	MinNameLen = 2   // shortest cardholder name
	MaxNameLen = 100 // longest cardholder name
	// MaxExpiryYears is how far ahead an expiry year may lie; cards are
	// issued for at most a few years, so a later year is a typing error.
	MaxExpiryYears = 20
)

// FieldErrors maps a field (FieldCardNumber, FieldCvv, ...) to its
// CloudPayments code (CodeCardNumberInvalid, ...). Its message lists the codes
// sorted and never contains the input.
type FieldErrors map[string]string

// Error implements error: "cryptogram: invalid card: CardNumber_Invalid, Cvv_Empty".
func (e FieldErrors) Error() string {
	codes := make([]string, 0, len(e))
	for _, c := range e {
		codes = append(codes, c)
	}
	sortStrings(codes)
	return "cryptogram: invalid card: " + strings.Join(codes, ", ")
}

// sortStrings is an insertion sort: the lists are tiny and this keeps the
// sort package out of the widget's binary.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// brandRule describes one brand: the prefix ranges, the PAN lengths and the
// length of its security code.
type brandRule struct {
	brand       Brand
	prefixes    []prefixRange
	minLen      int
	maxLen      int
	lens        []int // exact lengths when not a contiguous range; overrides minLen/maxLen
	cvvLen      int
	cvvOptional bool // cards of the brand may have no security code
}

// prefixRange matches PANs whose first digits, read as a number of
// len(lo) digits, lie in [lo, hi].
type prefixRange struct{ lo, hi string }

// brandRules is ordered so that no earlier rule shadows a later one.
var brandRules = []brandRule{
	{brand: BrandVisa, prefixes: []prefixRange{{"4", "4"}}, lens: []int{13, 16, 19}, cvvLen: 3},
	{brand: BrandMIR, prefixes: []prefixRange{{"2200", "2204"}}, minLen: 16, maxLen: 19, cvvLen: 3},
	{brand: BrandMastercard, prefixes: []prefixRange{{"51", "55"}, {"2221", "2720"}}, lens: []int{16}, cvvLen: 3},
	{brand: BrandAmex, prefixes: []prefixRange{{"34", "34"}, {"37", "37"}}, lens: []int{15}, cvvLen: 4},
	{brand: BrandJCB, prefixes: []prefixRange{{"3528", "3589"}}, minLen: 16, maxLen: 19, cvvLen: 3},
	{brand: BrandUnionPay, prefixes: []prefixRange{{"62", "62"}, {"81", "81"}}, minLen: 16, maxLen: 19, cvvLen: 3},
	{brand: BrandMaestro, prefixes: []prefixRange{{"50", "50"}, {"56", "58"}, {"63", "63"}, {"67", "67"}}, minLen: 12, maxLen: 19, cvvLen: 3, cvvOptional: true},
}

func (r *brandRule) lengthOK(n int) bool {
	if r.lens != nil {
		for _, l := range r.lens {
			if l == n {
				return true
			}
		}
		return false
	}
	return n >= r.minLen && n <= r.maxLen
}

// ruleFor returns the rule of the brand whose prefix the digits start with,
// or nil. Digits shorter than a prefix do not match it, so a partly typed
// number ("2") stays unknown until it is unambiguous.
func ruleFor(digits string) *brandRule {
	for i := range brandRules {
		r := &brandRules[i]
		for _, p := range r.prefixes {
			n := len(p.lo)
			if len(digits) < n {
				continue
			}
			if head := digits[:n]; head >= p.lo && head <= p.hi {
				return r
			}
		}
	}
	return nil
}

// DetectBrand returns the brand of a full or partly typed card number.
// Spaces and dashes are ignored; detection stops at the first other
// non-digit.
func DetectBrand(pan string) Brand {
	var buf [MaxPANLen]byte
	digits := buf[:0]
scan:
	for i := 0; i < len(pan) && len(digits) < len(buf); i++ {
		switch c := pan[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-':
		default:
			break scan
		}
	}
	if r := ruleFor(string(digits)); r != nil {
		return r.brand
	}
	return BrandUnknown
}

// CVVLen is the length of the brand's security code: 4 for American Express,
// 3 for the others, 0 (3 or 4 accepted) for BrandUnknown.
func (b Brand) CVVLen() int {
	for i := range brandRules {
		if brandRules[i].brand == b {
			return brandRules[i].cvvLen
		}
	}
	return 0
}

// Brand returns the card's brand.
func (c Card) Brand() Brand { return DetectBrand(c.PAN) }

// panOK reports whether the PAN is MinPANLen–MaxPANLen ASCII digits, the only
// form whose first and last digits may be shown.
func panOK(pan string) bool {
	return len(pan) >= MinPANLen && len(pan) <= MaxPANLen && allDigits(pan)
}

// Mask returns the PAN with all but the first 6 and last 4 digits replaced
// by '*' ("424242******4242"). A PAN that is not 12–19 digits is masked
// completely.
func (c Card) Mask() string {
	n := len(c.PAN)
	if !panOK(c.PAN) {
		return strings.Repeat("*", min(n, MaxPANLen))
	}
	return c.PAN[:6] + strings.Repeat("*", n-10) + c.PAN[n-4:]
}

// First6 returns the first six digits of the PAN (the bank identification
// number), or "" when the PAN is not 12–19 digits.
func (c Card) First6() string {
	if !panOK(c.PAN) {
		return ""
	}
	return c.PAN[:6]
}

// Last4 returns the last four digits of the PAN, or "" when the PAN is not
// 12–19 digits.
func (c Card) Last4() string {
	if !panOK(c.PAN) {
		return ""
	}
	return c.PAN[len(c.PAN)-4:]
}

// expiry returns "MM/YYYY", or "" when the month or year is unset.
func (c Card) expiry() string {
	if c.ExpMonth == 0 && c.ExpYear == 0 {
		return ""
	}
	m := strconv.Itoa(c.ExpMonth)
	if len(m) < 2 {
		m = "0" + m
	}
	return m + "/" + strconv.Itoa(c.ExpYear)
}

const redacted = "[redacted]"

// String returns the redacted card: brand, mask and expiry
// ("Visa 424242******4242 12/2029").
func (c Card) String() string {
	parts := make([]string, 0, 3)
	if b := c.Brand(); b != BrandUnknown {
		parts = append(parts, string(b))
	}
	parts = append(parts, c.Mask())
	if e := c.expiry(); e != "" {
		parts = append(parts, e)
	}
	return strings.Join(parts, " ")
}

// redactIfSet returns redacted for a non-empty secret and "" otherwise.
func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format implements fmt.Formatter so that every verb prints the redacted
// card: %v and %s print String, %+v names the fields, %#v prints a Go-syntax
// value with the PAN masked and the CVV and name replaced, %q quotes String.
func (c Card) Format(f fmt.State, verb rune) {
	var s string
	switch {
	case verb == 'v' && f.Flag('#'):
		s = "cryptogram.Card{PAN:" + strconv.Quote(c.Mask()) +
			", ExpMonth:" + strconv.Itoa(c.ExpMonth) + ", ExpYear:" + strconv.Itoa(c.ExpYear) +
			", CVV:" + strconv.Quote(redactIfSet(c.CVV)) + ", Name:" + strconv.Quote(redactIfSet(c.Name)) + "}"
	case verb == 'v' && f.Flag('+'):
		s = "{Brand:" + string(c.Brand()) + " PAN:" + c.Mask() +
			" ExpMonth:" + strconv.Itoa(c.ExpMonth) + " ExpYear:" + strconv.Itoa(c.ExpYear) +
			" CVV:" + redactIfSet(c.CVV) + " Name:" + redactIfSet(c.Name) + "}"
	case verb == 'q':
		s = strconv.Quote(c.String())
	default:
		s = c.String()
	}
	_, _ = f.Write([]byte(s))
}

// MarshalJSON implements json.Marshaler with the redacted form
// ({"brand":"Visa","mask":"424242******4242","exp":"12/2029"}), so that a
// Card that ends up in a JSON log or response carries no card data. Card
// data travels only inside a cryptogram.
func (c Card) MarshalJSON() ([]byte, error) {
	// Brand, mask and expiry are ASCII letters, digits, '*' and '/': no
	// escaping is needed, and strconv.Quote then produces valid JSON.
	b := []byte(`{"brand":`)
	b = strconv.AppendQuote(b, string(c.Brand()))
	b = append(b, `,"mask":`...)
	b = strconv.AppendQuote(b, c.Mask())
	b = append(b, `,"exp":`...)
	b = strconv.AppendQuote(b, c.expiry())
	b = append(b, '}')
	return b, nil
}

// Validate checks the card as both the widget and the server do: the number
// is digits only, passes the Luhn check and has a length its brand allows;
// the CVV is present (except for Maestro, whose cards may have none) and has
// the brand's length; the expiry month is 1–12 and the card has not expired
// at now (it is valid through the last day of its expiry month, in now's
// location); the optional name is 2–100 ASCII letters, spaces and . - '.
// A zero now means time.Now(). It returns FieldErrors or nil.
func (c Card) Validate(now time.Time) error {
	return c.validate(now, true)
}

func (c Card) validate(now time.Time, cvvRequired bool) error {
	if now.IsZero() {
		now = time.Now()
	}
	errs := FieldErrors{}
	rule := validatePAN(errs, c.PAN)
	validateCVV(errs, c.CVV, rule, cvvRequired)
	validateExpiry(errs, c.ExpMonth, c.ExpYear, now)
	if code := nameCode(c.Name); code != "" {
		errs[FieldName] = code
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// validatePAN records the number's error and returns its brand rule (nil for
// an unknown brand).
func validatePAN(errs FieldErrors, pan string) *brandRule {
	if pan == "" {
		errs[FieldCardNumber] = CodeCardNumberEmpty
		return nil
	}
	if !allDigits(pan) {
		errs[FieldCardNumber] = CodeCardNumberInvalid
		return nil
	}
	rule := ruleFor(pan)
	switch {
	case len(pan) < MinPANLen || len(pan) > MaxPANLen,
		rule != nil && !rule.lengthOK(len(pan)),
		!luhnOK(pan):
		errs[FieldCardNumber] = CodeCardNumberInvalid
	}
	return rule
}

func validateCVV(errs FieldErrors, cvv string, rule *brandRule, required bool) {
	if cvv == "" {
		if required && (rule == nil || !rule.cvvOptional) {
			errs[FieldCvv] = CodeCvvEmpty
		}
		return
	}
	ok := allDigits(cvv)
	if rule != nil {
		ok = ok && len(cvv) == rule.cvvLen
	} else {
		ok = ok && (len(cvv) == 3 || len(cvv) == 4)
	}
	if !ok {
		errs[FieldCvv] = CodeCvvInvalid
	}
}

func validateExpiry(errs FieldErrors, month, year int, now time.Time) {
	if month == 0 && year == 0 {
		errs[FieldExpDateMonthYear] = CodeExpDateMonthYearEmpty
		return
	}
	monthOK, yearOK := false, false
	switch {
	case month == 0:
		errs[FieldExpDateMonth] = CodeExpDateMonthEmpty
	case month < 1 || month > 12:
		errs[FieldExpDateMonth] = CodeExpDateMonthInvalid
	default:
		monthOK = true
	}
	switch {
	case year == 0:
		errs[FieldExpDateYear] = CodeExpDateYearEmpty
	case year < now.Year() || year > now.Year()+MaxExpiryYears || year > 9999:
		errs[FieldExpDateYear] = CodeExpDateYearInvalid
	default:
		yearOK = true
	}
	if monthOK && yearOK && year == now.Year() && month < int(now.Month()) {
		errs[FieldExpDateMonthYear] = CodeExpDateMonthYearInvalid
	}
}

// nameCode returns the error code of an optional cardholder name, or "".
func nameCode(name string) string {
	if name == "" {
		return ""
	}
	letters := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			letters++
		case c == ' ' || c == '-' || c == '.' || c == '\'':
		default:
			return CodeNameInvalid
		}
	}
	switch {
	case letters == 0 || name[0] == ' ' || name[len(name)-1] == ' ':
		return CodeNameInvalid
	case len(name) < MinNameLen:
		return CodeNameTooShort
	case len(name) > MaxNameLen:
		return CodeNameTooLong
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// luhnOK reports whether a string of digits passes the Luhn (mod 10) check.
func luhnOK(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
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

// ParseCard normalises raw form input and validates it: spaces and dashes
// are removed from the number, every field is trimmed, the month is "1" to
// "12" (or "01"), the year is two digits ("29" = 2029) or four ("2029").
// It returns the Card, or FieldErrors naming each faulty field; a zero now
// means time.Now(). The CVV is required except for Maestro (see Validate).
func ParseCard(number, expMonth, expYear, cvv, name string, now time.Time) (Card, error) {
	if now.IsZero() {
		now = time.Now()
	}
	c := Card{
		PAN:  normalizePAN(number),
		CVV:  strings.TrimSpace(cvv),
		Name: collapseSpaces(strings.TrimSpace(name)),
	}
	expMonth, expYear = strings.TrimSpace(expMonth), strings.TrimSpace(expYear)
	monthBad, yearBad := false, false
	if expMonth != "" {
		m, ok := parseSmallInt(expMonth, 1, 2)
		if ok && m >= 1 && m <= 12 {
			c.ExpMonth = m
		} else {
			monthBad = true
		}
	}
	if expYear != "" {
		y, ok := parseSmallInt(expYear, 2, 4)
		switch {
		case !ok || len(expYear) == 3 || y == 0 && len(expYear) == 4:
			yearBad = true
		case len(expYear) == 2:
			c.ExpYear = 2000 + y
		default:
			c.ExpYear = y
		}
	}
	errs := FieldErrors{}
	if err := c.validate(now, true); err != nil {
		errs = err.(FieldErrors)
	}
	// A month or year that did not parse is left zero in c, which Validate
	// reports as missing: report it as invalid instead, and report a field
	// left empty on its own rather than the pair.
	if monthBad || yearBad {
		if errs[FieldExpDateMonthYear] == CodeExpDateMonthYearEmpty {
			delete(errs, FieldExpDateMonthYear)
			if expMonth == "" {
				errs[FieldExpDateMonth] = CodeExpDateMonthEmpty
			}
			if expYear == "" {
				errs[FieldExpDateYear] = CodeExpDateYearEmpty
			}
		}
		if monthBad {
			errs[FieldExpDateMonth] = CodeExpDateMonthInvalid
		}
		if yearBad {
			errs[FieldExpDateYear] = CodeExpDateYearInvalid
		}
	}
	if len(errs) > 0 {
		return Card{}, errs
	}
	return c, nil
}

// normalizePAN removes spaces (also no-break spaces), tabs and dashes.
func normalizePAN(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case ' ', '\t', '-', '\u00a0':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// collapseSpaces replaces runs of spaces inside a name by one space.
func collapseSpaces(s string) string {
	if !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// parseSmallInt parses minLen..maxLen ASCII digits.
func parseSmallInt(s string, minLen, maxLen int) (int, bool) {
	if len(s) < minLen || len(s) > maxLen || !allDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
