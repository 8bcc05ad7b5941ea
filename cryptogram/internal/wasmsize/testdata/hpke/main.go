// Command hpke is base plus a single-shot X-Wing HPKE seal from crypto/hpke,
// to tell the cost of HPKE from the cost of package cryptogram's own code.
package main

import (
	"crypto/hpke"
	"syscall/js"
)

func main() {
	js.Global().Set("altynSeal", js.FuncOf(func(_ js.Value, args []js.Value) any {
		pk, err := hpke.MLKEM768X25519().NewPublicKey([]byte(args[0].String()))
		if err != nil {
			return err.Error()
		}
		ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), nil, []byte(args[1].String()))
		if err != nil {
			return err.Error()
		}
		return string(ct)
	}))
	select {}
}
