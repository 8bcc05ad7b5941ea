package cryptogram

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz targets open packets with a ring of fixed keys, so that the seed
// packets in testdata/fuzz/FuzzOpen keep opening. Regenerate the seeds with
//
//	ALTYN_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./cryptogram/
const fuzzMerchant = "pk_fuzz_merchant"

var (
	fuzzNow     = time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)
	fuzzBinding = &Binding{Amount: 4200, Currency: "RUB", InvoiceID: "inv_fuzz"}
	fuzzOnce    sync.Once
	fuzzR       *KeyRing
	fuzzKeys    [2]*PrivateKey // active, retired
)

func fuzzRing(t testing.TB) *KeyRing {
	fuzzOnce.Do(func() {
		fuzzKeys[0] = fixedKey(t, "k_fuzz", 0x42)
		fuzzKeys[1] = fixedKey(t, "k_fuzz_old", 0x43)
		fuzzR = NewKeyRing(fuzzKeys[0], fuzzKeys[1])
		fuzzR.Retire("k_fuzz_old")
	})
	return fuzzR
}

// FuzzOpen opens arbitrary input, once as the text of a packet and once as
// the packet bytes: Open and Peek must never panic, every error must be one
// of the documented sentinels, and a packet that opens must hold a valid
// card and the right digest.
func FuzzOpen(f *testing.F) {
	ring := fuzzRing(f)
	f.Add("")
	f.Add(PacketPrefix)
	f.Fuzz(func(t *testing.T, in string) {
		for _, packet := range []string{in, PacketPrefix + b64.EncodeToString([]byte(in))} {
			h, perr := Peek(packet)
			o, err := ring.Open(packet, fuzzMerchant, OpenOptions{Now: fuzzNow, Binding: fuzzBinding, MaxAge: 24 * time.Hour})
			if err != nil {
				if o != nil {
					t.Fatalf("Open returned %v with error %v", o, err)
				}
				if !isSentinel(err) {
					t.Fatalf("Open error %v is none of the sentinels", err)
				}
				if perr != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("Peek error %v but Open error %v, want ErrMalformed", perr, err)
				}
				continue
			}
			if perr != nil {
				t.Fatalf("Open succeeded but Peek error %v", perr)
			}
			if h.KeyID != o.KeyID || !h.IsFor(fuzzMerchant) {
				t.Fatalf("Peek %+v disagrees with Open %+v", h, o)
			}
			if verr := o.Card.validate(o.CreatedAt, false); verr != nil {
				t.Fatalf("opened card invalid: %v", verr)
			}
			raw, _ := b64.DecodeString(strings.TrimPrefix(packet, PacketPrefix))
			if o.Digest != sha256.Sum256(raw) {
				t.Fatalf("Digest %x is not the SHA-256 of the packet", o.Digest)
			}
		}
	})
}

// FuzzParseCard checks that ParseCard never panics, that it returns either a
// card Validate accepts or FieldErrors with known fields and codes, and that
// neither its errors nor the card's formatted forms contain the number.
func FuzzParseCard(f *testing.F) {
	f.Add("4242 4242 4242 4242", "12", "29", "123", "IVAN PETROV")
	f.Add("378282246310005", "1", "2030", "1234", "")
	f.Add("6759649826438453", "06", "28", "", "")
	f.Add("", "", "", "", "")
	f.Add("4242424242424241", "13", "202", "12a", "J0HN")
	fields := map[string][]string{
		FieldCardNumber:       {CodeCardNumberEmpty, CodeCardNumberInvalid},
		FieldCvv:              {CodeCvvEmpty, CodeCvvInvalid},
		FieldExpDateMonthYear: {CodeExpDateMonthYearEmpty, CodeExpDateMonthYearInvalid},
		FieldExpDateMonth:     {CodeExpDateMonthEmpty, CodeExpDateMonthInvalid},
		FieldExpDateYear:      {CodeExpDateYearEmpty, CodeExpDateYearInvalid},
		FieldName:             {CodeNameInvalid, CodeNameTooLong, CodeNameTooShort},
	}
	f.Fuzz(func(t *testing.T, number, month, year, cvv, name string) {
		c, err := ParseCard(number, month, year, cvv, name, fuzzNow)
		if err != nil {
			var fe FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("ParseCard error %v is not FieldErrors", err)
			}
			for field, code := range fe {
				codes, ok := fields[field]
				if !ok || !contains(codes, code) {
					t.Fatalf("unknown field/code %s=%s", field, code)
				}
			}
			if digits := normalizePAN(number); len(digits) >= 6 && strings.Contains(err.Error(), digits) {
				t.Fatalf("error %q contains the number", err)
			}
			return
		}
		if verr := c.Validate(fuzzNow); verr != nil {
			t.Fatalf("ParseCard accepted a card Validate rejects: %v", verr)
		}
		out := fmt.Sprintf("%v|%+v|%#v|%s|%q", c, c, c, c, c) + logValue(c)
		if strings.Contains(out, c.PAN) || (c.CVV != "" && strings.Contains(out, "CVV:\""+c.CVV)) {
			t.Fatalf("formatted card %q contains the PAN or CVV", out)
		}
		// The payload encoding round-trips every card ParseCard accepts.
		p := payload{card: c, created: fuzzNow.UnixMilli(), binding: fuzzBinding}
		var back payload
		if err := back.unmarshal(p.marshal()); err != nil || back.card != c || *back.binding != *fuzzBinding {
			t.Fatalf("payload round trip: %v, %v", back.card, err)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestWriteFuzzSeeds writes the seed corpus of FuzzOpen when
// ALTYN_WRITE_FUZZ_SEEDS is set; otherwise it checks that the seeds that
// should open still do.
func TestWriteFuzzSeeds(t *testing.T) {
	ring := fuzzRing(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if os.Getenv("ALTYN_WRITE_FUZZ_SEEDS") == "" {
		for _, name := range []string{"valid_text", "valid_bound_text", "valid_raw"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(string(b), "\n", 3)
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "valid_raw" {
				s = PacketPrefix + b64.EncodeToString([]byte(s))
			}
			if _, err := ring.Open(s, fuzzMerchant, OpenOptions{Now: fuzzNow, Binding: fuzzBinding, MaxAge: 24 * time.Hour}); err != nil {
				t.Errorf("seed %s does not open: %v", name, err)
			}
		}
		return
	}
	seal := func(k *PrivateKey, merchant string, c Card, b *Binding) string {
		p, err := Seal(k.Public(), merchant, c, SealOptions{Now: fuzzNow, Binding: b, Rand: bytes.NewReader(make([]byte, 16))})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	card := Card{PAN: "4242424242424242", ExpMonth: 12, ExpYear: 2029, CVV: "123", Name: "IVAN PETROV"}
	valid := seal(fuzzKeys[0], fuzzMerchant, card, nil)
	raw, _ := b64.DecodeString(strings.TrimPrefix(valid, PacketPrefix))
	seeds := map[string]string{
		"valid_text":       valid,
		"valid_bound_text": seal(fuzzKeys[0], fuzzMerchant, Card{PAN: "378282246310005", ExpMonth: 1, ExpYear: 2030, CVV: "1234"}, fuzzBinding),
		"valid_raw":        string(raw),
		"other_binding":    seal(fuzzKeys[0], fuzzMerchant, card, &Binding{Amount: 1, Currency: "USD"}),
		"wrong_merchant":   seal(fuzzKeys[0], "pk_other", card, nil),
		"retired_key":      seal(fuzzKeys[1], fuzzMerchant, card, nil),
		"header_only_raw":  string(raw[:8+len("k_fuzz")+merchantTagLen]),
		"empty":            "",
		"prefix":           PacketPrefix,
		"cloudpayments":    "eyJUeXBlIjoiQ2xvdWRDYXJkIiwiRm9ybWF0IjoxfQ==",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\nstring(" + strconv.Quote(s) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
