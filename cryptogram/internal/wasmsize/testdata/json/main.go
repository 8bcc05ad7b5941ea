// Command json is the cryptogram variant plus encoding/json marshalling of
// the card: what a JSON payload encoding would have added to the widget.
package main

import (
	"encoding/json"
	"syscall/js"

	"github.com/altynpay/altyn/cryptogram"
)

// jsonPayload is the payload as JSON would carry it.
type jsonPayload struct {
	PAN       string `json:"pan"`
	ExpMonth  int    `json:"m"`
	ExpYear   int    `json:"y"`
	CVV       string `json:"cvv,omitempty"`
	Name      string `json:"name,omitempty"`
	CreatedAt int64  `json:"t"`
	Nonce     []byte `json:"n"`
}

func main() {
	js.Global().Set("altynSeal", js.FuncOf(func(_ js.Value, args []js.Value) any {
		pub, err := cryptogram.ParsePublicKey(args[0].String())
		if err != nil {
			return err.Error()
		}
		card, err := cryptogram.ParseCard(args[1].String(), args[2].String(), args[3].String(), args[4].String(), args[5].String(), cryptogram.SealOptions{}.Now)
		if err != nil {
			return err.Error()
		}
		b, err := json.Marshal(jsonPayload{PAN: card.PAN, ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, CVV: card.CVV, Name: card.Name})
		if err != nil {
			return err.Error()
		}
		packet, err := cryptogram.Seal(pub, args[6].String()+string(b[:1]), card, cryptogram.SealOptions{})
		if err != nil {
			return err.Error()
		}
		return packet
	}))
	select {}
}
