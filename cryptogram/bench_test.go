package cryptogram

import (
	"testing"
	"time"
)

// The figures in docs/cryptogram.md come from
//
//	go test -run='^$' -bench=. -benchmem ./cryptogram/

func BenchmarkSeal(b *testing.B) {
	key := fixedKey(b, "k_20261123_ab12", 1)
	pub := key.Public()
	card := testCard("4242424242424242")
	var pkt string
	for b.Loop() {
		var err error
		pkt, err = Seal(pub, testMerchant, card, SealOptions{Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkt)), "bytes/packet")
}

func BenchmarkSealBound(b *testing.B) {
	key := fixedKey(b, "k_20261123_ab12", 1)
	pub := key.Public()
	card := testCard("4242424242424242")
	opts := SealOptions{Now: testNow, Binding: &Binding{Amount: 150000, Currency: "RUB", InvoiceID: "inv_20261123_000042"}}
	var pkt string
	for b.Loop() {
		var err error
		pkt, err = Seal(pub, testMerchant, card, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkt)), "bytes/packet")
}

func BenchmarkOpen(b *testing.B) {
	key := fixedKey(b, "k_20261123_ab12", 1)
	ring := NewKeyRing(key)
	pkt := mustSeal(b, key.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
	opts := OpenOptions{Now: testNow.Add(time.Minute)}
	for b.Loop() {
		if _, err := ring.Open(pkt, testMerchant, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkt)), "bytes/packet")
}

// BenchmarkOpenRejected is the cost of refusing a packet on its clear header
// (here: wrong merchant), which involves no KEM operation.
func BenchmarkOpenRejected(b *testing.B) {
	key := fixedKey(b, "k_20261123_ab12", 1)
	ring := NewKeyRing(key)
	pkt := mustSeal(b, key.Public(), testMerchant, testCard("4242424242424242"), SealOptions{})
	opts := OpenOptions{Now: testNow.Add(time.Minute)}
	for b.Loop() {
		if _, err := ring.Open(pkt, "pk_other", opts); err == nil {
			b.Fatal("opened for another merchant")
		}
	}
}

func BenchmarkParseCard(b *testing.B) {
	for b.Loop() {
		if _, err := ParseCard("4242 4242 4242 4242", "12", "29", "123", "IVAN PETROV", testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePrivateKey(b *testing.B) {
	key := fixedKey(b, "k_20261123_ab12", 1)
	bin, _ := key.MarshalBinary()
	for b.Loop() {
		if _, err := ParsePrivateKey(bin); err != nil {
			b.Fatal(err)
		}
	}
}
