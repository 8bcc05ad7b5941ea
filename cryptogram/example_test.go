package cryptogram_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// The widget validates the form and seals the card with the merchant's
// public key; the server opens the packet with its key ring.
func Example() {
	now := time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)
	const merchant = "pk_c3a1e9f0d7b24e0b8a7f6e5d4c3b2a19"

	// Server: make a key pair and publish its public half.
	key, err := cryptogram.GenerateKey("k_20261123_ab12")
	if err != nil {
		panic(err)
	}
	published, _ := key.Public().MarshalText()

	// Widget: fetch the public key, validate the form, seal.
	pub, err := cryptogram.ParsePublicKey(string(published))
	if err != nil {
		panic(err)
	}
	if _, err := cryptogram.ParseCard("4242 4242 4242 4241", "13", "29", "", "", now); err != nil {
		fmt.Println(err)
	}
	card, err := cryptogram.ParseCard("4242 4242 4242 4242", "12", "29", "123", "IVAN PETROV", now)
	if err != nil {
		panic(err)
	}
	payment := &cryptogram.Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_42"}
	packet, err := cryptogram.Seal(pub, merchant, card, cryptogram.SealOptions{Now: now, Binding: payment})
	if err != nil {
		panic(err)
	}

	// Server: open it for the payment it was made for.
	ring := cryptogram.NewKeyRing(key)
	opened, err := ring.Open(packet, merchant, cryptogram.OpenOptions{Now: now.Add(time.Minute), Binding: payment})
	if err != nil {
		panic(err)
	}
	fmt.Println(opened.Card) // redacted
	fmt.Println(opened.Card.First6(), opened.Card.Last4(), opened.KeyID, opened.CreatedAt.Format(time.RFC3339))

	// The same packet for another amount or another merchant does not open.
	other := &cryptogram.Binding{Amount: 1, Currency: "RUB", InvoiceID: "inv_42"}
	_, err = ring.Open(packet, merchant, cryptogram.OpenOptions{Now: now, Binding: other})
	fmt.Println(errors.Is(err, cryptogram.ErrBindingMismatch))
	_, err = ring.Open(packet, "pk_someone_else", cryptogram.OpenOptions{Now: now, Binding: payment})
	fmt.Println(errors.Is(err, cryptogram.ErrWrongMerchant))
	// Output:
	// cryptogram: invalid card: CardNumber_Invalid, Cvv_Empty, ExpDateMonth_Invalid
	// Visa 424242******4242 12/2029
	// 424242 4242 k_20261123_ab12 2026-11-23T12:00:00Z
	// true
	// true
}

func ExampleParseCard() {
	now := time.Date(2026, time.November, 23, 12, 0, 0, 0, time.UTC)
	_, err := cryptogram.ParseCard("3782 822463 10005", "10", "2026", "123", "I", now)
	var fields cryptogram.FieldErrors
	if errors.As(err, &fields) {
		fmt.Println(fields[cryptogram.FieldCardNumber] == "")
		fmt.Println(fields[cryptogram.FieldCvv])
		fmt.Println(fields[cryptogram.FieldExpDateMonthYear])
		fmt.Println(fields[cryptogram.FieldName])
	}
	// Output:
	// true
	// Cvv_Invalid
	// ExpDateMonthYear_Invalid
	// Name_TooShort
}
