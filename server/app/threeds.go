package app

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"

	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// TermPath is altyn's own TermUrl: the ACS posts MD and PaRes here when the
// payment named no TermUrl of the merchant's, and altyn completes the
// payment itself (the merchant learns the outcome from GetPayment).
const TermPath = "/3ds/return"

var termPage = template.Must(template.New("term").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>altyn — 3-D Secure</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem">
<main><h1 id="result" data-status="{{.Status}}">{{.Title}}</h1><p>{{.Text}}</p></main>
</body></html>`))

func (a *App) serveTerm(w http.ResponseWriter, r *http.Request) {
	data := struct{ Status, Title, Text string }{"error", "Payment not completed", ""}
	res, status, msg := a.complete3DS(w, r)
	if res == nil {
		data.Text = msg
	} else {
		data.Status = string(res.Payment.Status)
		switch res.Payment.Status {
		case store.StatusCompleted, store.StatusAuthorized:
			data.Title, data.Text = "Payment accepted", "Thank you. You can close this window."
		default:
			data.Title, data.Text = "Payment declined", "The payment was not accepted. "+res.Payment.Reason
		}
	}
	var b bytes.Buffer
	termPage.Execute(&b, data)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// complete3DS finishes the payment of an ACS's POST (MD and PaRes), for
// both TermUrls. Without a result it says why: the HTTP status and a text
// for the payer.
func (a *App) complete3DS(w http.ResponseWriter, r *http.Request) (res *payments.Result, status int, msg string) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	md, err := strconv.ParseInt(r.PostFormValue("MD"), 10, 64)
	if err != nil || md <= 0 {
		return nil, http.StatusBadRequest, "The 3-D Secure answer could not be read."
	}
	res, err = a.Engine.Complete3DSByMD(r.Context(), md, r.PostFormValue("PaRes"))
	switch {
	case err == nil:
		return res, http.StatusOK, ""
	case payments.IsKind(err, payments.KindNotFound), payments.IsKind(err, payments.KindInvalid), payments.IsKind(err, payments.KindPrecondition):
		return nil, http.StatusBadRequest, "This 3-D Secure answer does not belong to a payment awaiting it."
	default:
		a.log.ErrorContext(r.Context(), "3-D Secure return", "err", err)
		return nil, http.StatusInternalServerError, "Please try again in a moment."
	}
}
