//go:build js && wasm

// Command wasm is the widget's WebAssembly core: it fetches the merchant's
// public key, formats and checks the card fields, seals the card into a
// cryptogram and pays through altyn's public API. The form's JavaScript
// (form.js, seal.js) handles the DOM and calls it through the object
// globalThis.altynCore, which main sets and announces by calling
// globalThis.altynCoreReady(core) if the page defined it.
//
// To stay small it uses syscall/js for fetch and JSON (no net/http, no
// encoding/json) and no fmt: each of those adds 70–150 KB of brotli.
// The logic is in package cardform and package cryptogram, tested natively;
// this file is only the glue.
package main

import (
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/widget/internal/cardform"
)

// checkoutPath is the public API's Connect prefix.
const checkoutPath = "/altyn.v1.CheckoutService/"

// httpDate is the format of the HTTP Date header (net/http.TimeFormat,
// written out to keep net/http out of the binary).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// state is the merchant's key, fetched once per frame.
var state struct {
	mu       sync.Mutex
	base     string
	publicID string
	ready    chan struct{} // closed when key or err is set
	key      cryptogram.PublicKey
	err      error
	// skew is the server's clock minus ours, from the key response's Date
	// header: cryptograms carry their creation time and the server refuses
	// ones from the future, and many payers' clocks are wrong.
	skew time.Duration
}

func main() {
	core := newObject()
	core.Set("version", "1")
	core.Set("init", js.FuncOf(initKey))
	core.Set("format", js.FuncOf(format))
	core.Set("formatExpiry", js.FuncOf(formatExpiry))
	core.Set("check", js.FuncOf(check))
	core.Set("pay", js.FuncOf(pay))
	core.Set("cryptogram", js.FuncOf(makeCryptogram))
	core.Set("status", js.FuncOf(status))
	js.Global().Set("altynCore", core)
	if cb := js.Global().Get("altynCoreReady"); cb.Type() == js.TypeFunction {
		cb.Invoke(core)
	}
	select {} // serve calls from JavaScript until the page goes away
}

// initKey(base, publicId) starts fetching the merchant's key; it returns a
// Promise that resolves when the key is ready. Calling it again for the
// same merchant reuses the key.
func initKey(_ js.Value, args []js.Value) any {
	base, publicID := arg(args, 0).String(), arg(args, 1).String()
	state.mu.Lock()
	if state.ready == nil || state.base != base || state.publicID != publicID || failed() {
		state.base, state.publicID, state.ready, state.err = base, publicID, make(chan struct{}), nil
		ready := state.ready
		go func() {
			key, skew, err := fetchKey(base, publicID)
			state.mu.Lock()
			state.key, state.skew, state.err = key, skew, err
			state.mu.Unlock()
			close(ready)
		}()
	}
	state.mu.Unlock()
	return promise(func() (any, error) {
		_, err := currentKey()
		return nil, err
	})
}

// failed reports whether the last key fetch has ended in an error (so a
// new init fetches again). state.mu is held.
func failed() bool {
	select {
	case <-state.ready:
		return state.err != nil
	default:
		return false
	}
}

// currentKey waits for the key.
func currentKey() (cryptogram.PublicKey, error) {
	state.mu.Lock()
	ready := state.ready
	state.mu.Unlock()
	if ready == nil {
		return cryptogram.PublicKey{}, errors.New("altynCore.init was not called")
	}
	<-ready
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.key, state.err
}

func fetchKey(base, publicID string) (cryptogram.PublicKey, time.Duration, error) {
	req := newObject()
	req.Set("publicId", publicID)
	res, headers, err := post(base+checkoutPath+"GetPublicKey", req)
	if err != nil {
		return cryptogram.PublicKey{}, 0, err
	}
	key, err := cryptogram.ParsePublicKey(res.Get("publicKey").String())
	if err != nil {
		return cryptogram.PublicKey{}, 0, err
	}
	var skew time.Duration
	if d, err := time.Parse(httpDate, headers.Call("get", "Date").String()); err == nil {
		// The header has whole seconds: ignore skews below a few.
		if s := time.Until(d); s > 3*time.Second || s < -3*time.Second {
			skew = s
		}
	}
	return key, skew, nil
}

// merchant is the API's base URL and the merchant's public id.
func merchant() (base, publicID string) {
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.base, state.publicID
}

func now() time.Time {
	state.mu.Lock()
	defer state.mu.Unlock()
	return time.Now().Add(state.skew)
}

// format(number) → {text, brand}: the number grouped as typed, its brand.
func format(_ js.Value, args []js.Value) any {
	text, brand := cardform.FormatNumber(arg(args, 0).String())
	o := newObject()
	o.Set("text", text)
	o.Set("brand", string(brand))
	return o
}

// formatExpiry(value, deleting) → "MM / YY".
func formatExpiry(_ js.Value, args []js.Value) any {
	return cardform.FormatExpiry(arg(args, 0).String(), arg(args, 1).Truthy())
}

// check({number, expiry, cvv, name}) → {errors: {field: code}, complete:
// {field: bool}}: the errors of every field and which fields the payer has
// finished typing (whose errors may be shown before they leave the field).
func check(_ js.Value, args []js.Value) any {
	f := arg(args, 0)
	number, expiry, cvv, name := str(f, "number"), str(f, "expiry"), str(f, "cvv"), str(f, "name")
	_, errs := cardform.Check(number, expiry, cvv, name, now())
	complete := newObject()
	complete.Set(cardform.Number, cardform.Complete(cardform.Number, number, number))
	complete.Set(cardform.Expiry, cardform.Complete(cardform.Expiry, expiry, number))
	complete.Set(cardform.CVV, cardform.Complete(cardform.CVV, cvv, number))
	o := newObject()
	o.Set("errors", mapObject(errs))
	o.Set("complete", complete)
	return o
}

// pay(method, fields, request, binding) seals the form's card and calls the
// public API's method ("Pay" or "PayInvoice") with request plus the
// cryptogram. binding ({amount, currency, invoiceId} or null) ties the
// cryptogram to the payment. It returns a Promise of {response, sealMs,
// sealedAt} (sealedAt: performance.now() when the cryptogram was made); an
// invalid card rejects with {fields: {field: code}} before anything is
// sent, a refused call with {code, message}.
func pay(_ js.Value, args []js.Value) any {
	method, f, request, binding := arg(args, 0).String(), arg(args, 1), arg(args, 2), arg(args, 3)
	number, expiry, cvv, name := str(f, "number"), str(f, "expiry"), str(f, "cvv"), str(f, "name")
	b := bindingOf(binding)
	return promise(func() (any, error) {
		key, err := currentKey()
		if err != nil {
			return nil, err
		}
		t := time.Now()
		card, errs := cardform.Check(number, expiry, cvv, name, now())
		if errs != nil {
			return nil, fieldsError(errs)
		}
		base, publicID := merchant()
		packet, err := cryptogram.Seal(key, publicID, card, cryptogram.SealOptions{Now: now(), Binding: b})
		if err != nil {
			return nil, sealError(err)
		}
		sealMs := time.Since(t).Seconds() * 1000
		sealedAt := js.Global().Get("performance").Call("now")
		request.Set("cryptogram", packet)
		res, _, err := post(base+checkoutPath+method, request)
		if err != nil {
			return nil, err
		}
		o := newObject()
		o.Set("response", res)
		o.Set("sealMs", sealMs)
		o.Set("sealedAt", sealedAt)
		return o, nil
	})
}

// cryptogram(cardData, binding) is the checkout script's
// createPaymentCryptogram: cardData is {cardNumber, expDateMonth,
// expDateYear, cvv, name}. It returns a Promise of {cryptogram, sealMs}, or
// rejects with {fields: {CardNumber: "CardNumber_Invalid", …}} — the
// CloudPayments field names and codes.
func makeCryptogram(_ js.Value, args []js.Value) any {
	d := arg(args, 0)
	number, month, year, cvv, name := str(d, "cardNumber"), str(d, "expDateMonth"), str(d, "expDateYear"), str(d, "cvv"), str(d, "name")
	b := bindingOf(arg(args, 1))
	return promise(func() (any, error) {
		key, err := currentKey()
		if err != nil {
			return nil, err
		}
		t := time.Now()
		card, err := cryptogram.ParseCard(number, month, year, cvv, name, now())
		if err != nil {
			return nil, sealError(err)
		}
		_, publicID := merchant()
		packet, err := cryptogram.Seal(key, publicID, card, cryptogram.SealOptions{Now: now(), Binding: b})
		if err != nil {
			return nil, sealError(err)
		}
		o := newObject()
		o.Set("cryptogram", packet)
		o.Set("sealMs", time.Since(t).Seconds()*1000)
		return o, nil
	})
}

// status(paymentId, language) → Promise of the GetPaymentStatus response.
func status(_ js.Value, args []js.Value) any {
	req := newObject()
	req.Set("paymentId", arg(args, 0).String())
	req.Set("language", arg(args, 1).String())
	return promise(func() (any, error) {
		base, publicID := merchant()
		req.Set("publicId", publicID)
		res, _, err := post(base+checkoutPath+"GetPaymentStatus", req)
		return res, err
	})
}

// bindingOf reads {amount, currency, invoiceId}; null or undefined is no
// binding.
func bindingOf(v js.Value) *cryptogram.Binding {
	if v.Type() != js.TypeObject {
		return nil
	}
	amount, err := strconv.ParseInt(str(v, "amount"), 10, 64)
	if err != nil {
		return nil
	}
	return &cryptogram.Binding{Amount: amount, Currency: str(v, "currency"), InvoiceID: str(v, "invoiceId")}
}

// post calls a Connect unary method with a JSON body and returns the
// decoded answer and the response headers. A Connect error becomes a
// jsError {code, message}.
func post(url string, body js.Value) (js.Value, js.Value, error) {
	headers := newObject()
	headers.Set("Content-Type", "application/json")
	headers.Set("Connect-Protocol-Version", "1")
	opts := newObject()
	opts.Set("method", "POST")
	opts.Set("headers", headers)
	opts.Set("body", js.Global().Get("JSON").Call("stringify", body))
	opts.Set("credentials", "omit")
	resp, err := await(js.Global().Call("fetch", url, opts))
	if err != nil {
		return js.Undefined(), js.Undefined(), &jsError{code: "unavailable", message: "the payment service cannot be reached"}
	}
	data, err := await(resp.Call("json"))
	if err != nil {
		data = newObject()
	}
	if !resp.Get("ok").Bool() {
		e := &jsError{code: str(data, "code"), message: str(data, "message")}
		if e.code == "" {
			e.code = "unknown"
		}
		return js.Undefined(), js.Undefined(), e
	}
	return data, resp.Get("headers"), nil
}

// jsError is an error that rejects a Promise with a structured object.
type jsError struct {
	code, message string
	fields        map[string]string
}

func (e *jsError) Error() string { return e.code + ": " + e.message }

func (e *jsError) value() js.Value {
	o := newObject()
	o.Set("code", e.code)
	o.Set("message", e.message)
	if e.fields != nil {
		o.Set("fields", mapObject(e.fields))
	}
	return o
}

func fieldsError(f map[string]string) error {
	return &jsError{code: "invalid_card", message: "the card is invalid", fields: f}
}

// sealError turns an error of the cryptogram package into a jsError: card
// field errors keep their CloudPayments names.
func sealError(err error) error {
	var fe cryptogram.FieldErrors
	if errors.As(err, &fe) {
		return fieldsError(fe)
	}
	return &jsError{code: "seal_failed", message: err.Error()}
}

// promise runs fn on a goroutine (it may block on fetch) and returns a
// Promise of its result.
func promise(fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := fn()
			if err != nil {
				var je *jsError
				if !errors.As(err, &je) {
					je = &jsError{code: "error", message: err.Error()}
				}
				reject.Invoke(je.value())
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

// await blocks the calling goroutine until a JavaScript Promise settles.
func await(p js.Value) (js.Value, error) {
	done := make(chan struct{})
	var v js.Value
	var failed bool
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v = arg(args, 0)
		close(done)
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v, failed = arg(args, 0), true
		close(done)
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	<-done
	if failed {
		return v, errors.New("promise rejected")
	}
	return v, nil
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// str reads a property as a string; missing or null is "".
func str(o js.Value, name string) string {
	if o.Type() != js.TypeObject {
		return ""
	}
	v := o.Get(name)
	switch v.Type() {
	case js.TypeString:
		return v.String()
	case js.TypeNumber:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	}
	return ""
}

func newObject() js.Value { return js.Global().Get("Object").New() }

func mapObject(m map[string]string) js.Value {
	o := newObject()
	for k, v := range m {
		o.Set(k, v)
	}
	return o
}
