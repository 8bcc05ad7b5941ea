// Command cryptogram is base plus what the widget does with package
// cryptogram: parse the public key, validate the form, seal.
package main

import (
	"syscall/js"

	"github.com/altynpay/altyn/cryptogram"
)

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
		packet, err := cryptogram.Seal(pub, args[6].String(), card, cryptogram.SealOptions{})
		if err != nil {
			return err.Error()
		}
		return packet
	}))
	select {}
}
