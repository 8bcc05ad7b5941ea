package acquirer

import (
	"strings"
	"testing"
	"unicode"
)

// specCodes are the decline codes of SPEC.md §1.4.
var specCodes = []int{
	5001, 5003, 5004, 5005, 5006, 5007, 5012, 5013, 5014, 5015, 5017, 5019,
	5030, 5031, 5033, 5034, 5036, 5041, 5043, 5051, 5054, 5055, 5057, 5058,
	5059, 5061, 5062, 5063, 5065, 5082, 5091, 5092, 5096, 5204, 5206, 5207,
	5300, 6025,
}

func hasCyrillic(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0
}

func TestReasonsOfEveryCode(t *testing.T) {
	t.Parallel()
	names := map[string]int{}
	for _, code := range append([]int{0}, specCodes...) {
		name := ReasonName(code)
		if name == "" || name == "Unknown" || strings.ContainsAny(name, " .") {
			t.Errorf("ReasonName(%d): got %q, want a short CamelCase name", code, name)
		}
		if other, dup := names[name]; dup {
			t.Errorf("ReasonName(%d): got %q, the name of %d too", code, name, other)
		}
		names[name] = code
		en, ru := CardHolderMessage(code, "en"), CardHolderMessage(code, "ru")
		if en == "" || hasCyrillic(en) {
			t.Errorf("CardHolderMessage(%d, en): got %q, want English", code, en)
		}
		if !hasCyrillic(ru) {
			t.Errorf("CardHolderMessage(%d, ru): got %q, want Russian", code, ru)
		}
		if en == CardHolderMessage(-1, "en") {
			t.Errorf("CardHolderMessage(%d, en): got the generic message, want one for the code", code)
		}
	}
}

func TestReasonNames(t *testing.T) {
	t.Parallel()
	cases := map[int]string{
		0:    "Approved",
		5005: "DoNotHonor",
		5014: "InvalidCardNumber",
		5051: "InsufficientFunds",
		5054: "ExpiredCard",
		5206: "AuthenticationFailed",
		5207: "AuthenticationUnavailable",
		4242: "Unknown",
	}
	for code, want := range cases {
		if got := ReasonName(code); got != want {
			t.Errorf("ReasonName(%d): got %q, want %q", code, got, want)
		}
	}
}

func TestCardHolderMessageLanguage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		lang string
		want string
	}{
		{5051, "ru", "Недостаточно средств на карте."},
		{5051, "ru-RU", "Недостаточно средств на карте."},
		{5051, "RU_ru", "Недостаточно средств на карте."},
		{5051, "en", "Insufficient funds on the card."},
		{5051, "en-US", "Insufficient funds on the card."},
		{5051, "", "Insufficient funds on the card."},
		{5051, "kk", "Insufficient funds on the card."},
		{5051, "rus", "Insufficient funds on the card."},
		{9999, "en", "The payment was declined. Contact your bank or use another card."},
		{9999, "ru", "Платёж отклонён. Свяжитесь с вашим банком или воспользуйтесь другой картой."},
	}
	for _, c := range cases {
		if got := CardHolderMessage(c.code, c.lang); got != c.want {
			t.Errorf("CardHolderMessage(%d, %q): got %q, want %q", c.code, c.lang, got, c.want)
		}
	}
}

// TestCardHolderMessageDiscreet checks that the payer is never told that a
// card was reported lost or stolen or looks fraudulent.
func TestCardHolderMessageDiscreet(t *testing.T) {
	t.Parallel()
	for _, code := range []int{5004, 5007, 5033, 5034, 5041, 5043, 5059, 5063} {
		for _, lang := range []string{"en", "ru"} {
			msg := strings.ToLower(CardHolderMessage(code, lang))
			for _, word := range []string{"lost", "stolen", "fraud", "потер", "украд", "мошен"} {
				if strings.Contains(msg, word) {
					t.Errorf("CardHolderMessage(%d, %s): got %q, which says %q", code, lang, msg, word)
				}
			}
		}
	}
}
