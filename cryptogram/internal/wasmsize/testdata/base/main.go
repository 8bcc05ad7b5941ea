// Command base is the baseline of the wasm size measurement: the Go runtime
// and syscall/js, exposing one function to JavaScript.
package main

import "syscall/js"

func main() {
	js.Global().Set("altynSeal", js.FuncOf(func(_ js.Value, args []js.Value) any {
		return args[0].String() + args[1].String()
	}))
	select {}
}
