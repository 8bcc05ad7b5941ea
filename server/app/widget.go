package app

import (
	"errors"
	"net/http"

	"github.com/altynpay/altyn/server/invoices"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/widget"
)

// widgetRoutes serves the payment widget (package widget), its 3-D Secure
// return page, the hosted invoice page and the demo shop.
func (a *App) widgetRoutes(mux *http.ServeMux) {
	mux.Handle(widget.Prefix, widget.Handler())
	mux.HandleFunc("POST "+widget.ThreeDSPath, a.serveWidget3DS)
	mux.HandleFunc("GET "+invoices.PayPath+"{id}", a.servePayPage)
	mux.HandleFunc("GET /demo", a.serveDemo)
}

// serveWidget3DS is the TermUrl of payments made by the widget: the ACS
// posts MD and PaRes here inside the form's 3-D Secure frame. It completes
// the payment (and the invoice it pays, if any) and renders a page whose
// script tells the form, which reads the outcome from the API.
func (a *App) serveWidget3DS(w http.ResponseWriter, r *http.Request) {
	res, status, msg := a.complete3DS(w, r)
	if res == nil {
		widget.RenderThreeDSDone(w, status, "error", msg)
		return
	}
	if err := a.Invoices.SyncPayment(r.Context(), res.Payment); err != nil {
		// The invoice catches up the next time it is read.
		a.log.WarnContext(r.Context(), "invoice after 3-D Secure", "payment", res.Payment.ID, "err", err)
	}
	widget.RenderThreeDSDone(w, http.StatusOK, string(res.Payment.Status), "Authentication finished.")
}

// servePayPage is the hosted payment page of an invoice: the card form for
// an invoice that may be paid, its status otherwise.
func (a *App) servePayPage(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = widget.LangFromHeader(r.Header.Get("Accept-Language"))
	}
	inv, m, err := a.Invoices.Lookup(r.Context(), r.PathValue("id"))
	if errors.Is(err, invoices.ErrNotFound) {
		widget.RenderStatus(w, widget.StatusPage{Lang: lang, Status: "not_found"})
		return
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "hosted invoice page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if inv.Status != store.InvoiceCreated {
		back := ""
		switch inv.Status {
		case store.InvoiceProcessed:
			back = inv.SuccessURL
		case store.InvoiceExpired, store.InvoiceCancelled:
			back = inv.FailURL
		}
		widget.RenderStatus(w, widget.StatusPage{Lang: lang, Status: string(inv.Status), Merchant: m.Name,
			Description: inv.Description, BackURL: back})
		return
	}
	widget.RenderForm(w, r, widget.FormPage{Lang: lang, Hosted: &widget.Hosted{
		ID: inv.ID, PublicID: m.PublicID, Amount: inv.Amount, Currency: inv.Currency, InvoiceID: inv.InvoiceID,
		Description: inv.Description, TwoStage: inv.TwoStage, SuccessURL: inv.SuccessURL, FailURL: inv.FailURL,
		MerchantName: m.Name,
	}})
}

// serveDemo is the demo shop of the merchant named by ?publicId=, or of
// DemoPublicID.
func (a *App) serveDemo(w http.ResponseWriter, r *http.Request) {
	publicID := r.URL.Query().Get("publicId")
	if publicID == "" {
		publicID = a.DemoPublicID
	}
	if publicID == "" {
		http.Error(w, "no demo merchant: open /demo?publicId=pk_…", http.StatusNotFound)
		return
	}
	if _, err := a.Merchants.ByPublicID(r.Context(), publicID); errors.Is(err, merchants.ErrNotFound) {
		http.Error(w, "no merchant has this public id", http.StatusNotFound)
		return
	} else if err != nil {
		a.log.ErrorContext(r.Context(), "demo page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	widget.RenderDemo(w, publicID)
}
