package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/store"
)

// MaxAmount bounds a payment: 10^12 minor units (ten billion roubles) is far
// above any card limit and far below int64 overflow when amounts are added.
const MaxAmount = 1_000_000_000_000

// PayCommand asks for a payment by cryptogram or saved-card token:
// one-stage (Charge) or two-stage (Authorize).
type PayCommand struct {
	MerchantID     string          `json:"-" validate:"required"`
	TwoStage       bool            `json:"two_stage"`
	Amount         int64           `json:"amount" field:"amount.amount" validate:"gt=0,lte=1000000000000"`
	Currency       string          `json:"currency" field:"amount.currency" validate:"required,iso4217"`
	Cryptogram     string          `json:"cryptogram" field:"cryptogram" validate:"required_without=Token,excluded_with=Token,max=8192"`
	Token          string          `json:"token" field:"token" validate:"max=64"`
	Initiator      Initiator       `json:"initiator" field:"initiator" validate:"omitempty,oneof=cardholder merchant"`
	Scheduled      bool            `json:"scheduled"`
	SaveCard       bool            `json:"save_card"`
	InvoiceID      string          `json:"invoice_id" field:"invoice_id" validate:"max=100"`
	AccountID      string          `json:"account_id" field:"account_id" validate:"required_with=Token,required_if=SaveCard true,max=100"`
	Description    string          `json:"description" field:"description" validate:"max=1000"`
	Email          string          `json:"email" field:"email" validate:"omitempty,email,max=254"`
	IPAddress      string          `json:"ip_address" field:"ip_address" validate:"omitempty,ip"`
	CardholderName string          `json:"cardholder_name" field:"cardholder_name" validate:"max=100"`
	Data           json.RawMessage `json:"data" field:"data" validate:"max=16384"`
	TermURL        string          `json:"term_url" field:"term_url" validate:"omitempty,http_url,max=2048"`
	IdempotencyKey string          `json:"-" field:"idempotency_key" validate:"max=128"`
	// Recurrent is the recurrent plan the payment asks for (JSON of
	// subscriptions.Plan), filled in by a BeforePay hook from the API's
	// field or the data's "recurrent"; once the payment is approved, a
	// subscription is made of it.
	Recurrent json.RawMessage `json:"recurrent,omitempty" field:"recurrent" validate:"max=4096"`
	// SubscriptionID names the subscription a scheduled charge bills.
	SubscriptionID string `json:"subscription_id,omitempty" field:"subscription_id" validate:"max=64"`
}

// Initiator says who starts a token payment (card networks treat them
// differently): the cardholder (CIT) or the merchant (MIT, e.g. a
// subscription). Cryptogram payments are always the cardholder's.
type Initiator string

// The initiators.
const (
	InitiatorCardholder Initiator = "cardholder"
	InitiatorMerchant   Initiator = "merchant"
)

func (c PayCommand) operation() string {
	if c.TwoStage {
		return "authorize"
	}
	return "charge"
}

// Pay opens the cryptogram, records the payment, asks the acquirer and
// records its answer. A decline is a result, not an error.
func (e *Engine) Pay(ctx context.Context, cmd PayCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	for _, hook := range e.beforePay {
		if err := hook(ctx, &cmd); err != nil {
			return nil, err
		}
	}
	m, err := e.merchant(ctx, cmd.MerchantID)
	if err != nil {
		return nil, err
	}
	op := cmd.operation()
	hash := requestHash(op, cmd)
	if res, done, err := e.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, op, hash); done {
		return res, err
	}

	now := e.now()
	var card cryptogram.Card
	var digest []byte
	var token *store.Token
	if cmd.Token != "" {
		if token, card, err = e.tokenCard(ctx, m, cmd); err != nil {
			return nil, err
		}
	} else {
		ring, err := e.merchants.KeyRing(ctx, m.PublicID)
		if err != nil {
			return nil, fmt.Errorf("key ring: %w", err)
		}
		opened, err := ring.Open(cmd.Cryptogram, m.PublicID, cryptogram.OpenOptions{
			MaxAge:  e.cfg.CryptogramMaxAge,
			Now:     now,
			Binding: &cryptogram.Binding{Amount: cmd.Amount, Currency: cmd.Currency, InvoiceID: cmd.InvoiceID},
		})
		if err != nil {
			return nil, openError(err)
		}
		card, digest = opened.Card, opened.Digest[:]
	}
	defer func() { card = cryptogram.Card{} }()
	name := cmd.CardholderName
	if name == "" {
		name = card.Name
	}
	p := &store.Payment{
		ID:             newID("pay"),
		MerchantID:     m.ID,
		TransactionID:  newTransactionID(),
		Status:         store.StatusPending,
		TwoStage:       cmd.TwoStage,
		Amount:         cmd.Amount,
		Currency:       cmd.Currency,
		InvoiceID:      cmd.InvoiceID,
		AccountID:      cmd.AccountID,
		Description:    cmd.Description,
		Email:          cmd.Email,
		IPAddress:      cmd.IPAddress,
		CardholderName: name,
		Data:           cmd.Data,
		Recurrent:      cmd.Recurrent,
		SubscriptionID: cmd.SubscriptionID,
		CardFirstSix:   card.First6(),
		CardLastFour:   card.Last4(),
		CardBrand:      string(card.Brand()),
		CardExpMonth:   card.ExpMonth,
		CardExpYear:    card.ExpYear,
		TestMode:       m.TestMode,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	var save *store.Token
	if token != nil {
		p.TokenID = token.ID
	} else if cmd.AccountID != "" {
		// CloudPayments issues a token whenever the payment names the
		// payer's account; the card is saved only if the payment succeeds.
		if save, err = e.newToken(ctx, m.ID, cmd.AccountID, card, now); err != nil {
			return nil, err
		}
	}
	claim := e.claim(cmd.MerchantID, cmd.IdempotencyKey, op, hash, p.ID)
	switch err := e.store.CreatePayment(ctx, p, claim, digest); {
	case errors.Is(err, store.ErrKeyUsed):
		// A concurrent request with the same key won the race: answer as it does.
		res, _, err := e.replay(ctx, cmd.MerchantID, cmd.IdempotencyKey, op, hash)
		return res, err
	case errors.Is(err, store.ErrCryptogramUsed):
		return nil, ErrCryptogramReplayed
	case err != nil:
		return nil, fmt.Errorf("record payment: %w", err)
	}

	wctx, cancel := background(ctx)
	defer cancel()
	if e.checker != nil {
		if res := e.checker.Check(ctx, p); !res.Accept {
			declined := acquirer.Result{Outcome: acquirer.OutcomeDeclined, ReasonCode: res.ReasonCode, Reason: res.Reason}
			return e.settleAuthorization(wctx, p, claim, declined, store.StatusPending, nil)
		}
	}
	termURL := cmd.TermURL
	if termURL == "" {
		termURL = e.cfg.TermURL
	}
	ar, err := e.acquirer.Authorize(ctx, acquirer.AuthorizeRequest{
		OpID:      p.ID,
		Card:      card,
		Amount:    p.Amount,
		Currency:  p.Currency,
		Capture:   !p.TwoStage,
		TermURL:   termURL,
		Recurring: token != nil && cmd.Initiator == InitiatorMerchant,
		Skip3DS:   token != nil,
	})
	if err != nil {
		// The acquirer's answer is lost: the payment stays Pending and the
		// resolver asks the acquirer what happened. No answer is stored, so
		// a retry with the same key waits for the resolution.
		e.log.WarnContext(ctx, "acquirer did not answer; payment left pending", "payment", p.ID, "err", err)
		return e.result(wctx, p)
	}
	return e.settleAuthorization(wctx, p, claim, ar, store.StatusPending, save)
}

// settleAuthorization records the acquirer's answer to an authorization or
// a 3-D Secure completion, if the payment is still in status from.
// A card to save becomes the payment's token if the payment is approved.
func (e *Engine) settleAuthorization(ctx context.Context, p *store.Payment, answer *store.Idempotency, ar acquirer.Result, from store.PaymentStatus, save *store.Token) (*Result, error) {
	m, err := e.merchant(ctx, p.MerchantID)
	if err != nil {
		return nil, err
	}
	now := e.now()
	var res *Result
	// p is the row as the caller last wrote or read it: the write skips
	// reading it again unless it has changed since.
	_, err = e.store.ModifyPaymentFrom(ctx, p, func(p *store.Payment) (store.Effects, error) {
		if p.Status != from {
			return store.Effects{}, errSettled
		}
		if err := applyAuthorization(p, ar, now, m.AutoCaptureDays, e.cfg.AuthorizationTTL); err != nil {
			return store.Effects{}, err
		}
		eff := store.Effects{Outbox: authorizationEvent(p, now)}
		switch {
		case save != nil && (approved(p) || p.Status == store.StatusAwaitingAuthentication):
			// A card awaiting 3-D Secure is saved inactive: the PAN is gone
			// from memory by the time the payer comes back.
			t := *save
			t.Inactive = !approved(p)
			eff.SaveToken, p.TokenID = &t, t.ID
		case from == store.StatusAwaitingAuthentication && p.TokenID != "":
			if approved(p) {
				eff.ActivateToken = p.TokenID
			} else {
				eff.DropToken, p.TokenID = p.TokenID, ""
			}
		}
		res = &Result{Payment: p}
		eff.Answer = answerOf(answer, res)
		return eff, nil
	})
	if errors.Is(err, errSettled) {
		return e.result(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("record authorization: %w", err)
	}
	if approved(res.Payment) {
		for _, hook := range e.onApproved {
			hook(ctx, res.Payment)
		}
	}
	return res, nil
}

func approved(p *store.Payment) bool {
	return p.Status == store.StatusCompleted || p.Status == store.StatusAuthorized
}

// errSettled: someone else (a retry, the resolver) recorded the answer first.
var errSettled = errors.New("already settled")

// applyAuthorization moves p as the acquirer's answer says.
func applyAuthorization(p *store.Payment, ar acquirer.Result, now time.Time, autoCaptureDays int, ttl time.Duration) error {
	switch ar.Outcome {
	case acquirer.Outcome3DS:
		if err := move(p, store.StatusAwaitingAuthentication); err != nil {
			return err
		}
		p.ACSURL, p.PaReq = ar.ACSURL, ar.PaReq
	case acquirer.OutcomeApproved:
		to := store.StatusCompleted
		if p.TwoStage {
			to = store.StatusAuthorized
		}
		if err := move(p, to); err != nil {
			return err
		}
		p.AuthorizedAmount, p.AuthorizedAt, p.AuthCode = p.Amount, now, ar.AuthCode
		p.ReasonCode, p.Reason = 0, acquirer.ReasonName(0)
		if p.TwoStage {
			p.ExpiresAt = now.Add(ttl)
			if autoCaptureDays > 0 {
				p.ExpiresAt = now.Add(time.Duration(autoCaptureDays) * 24 * time.Hour)
			}
		} else {
			p.CapturedAmount, p.CapturedAt = p.Amount, now
		}
	case acquirer.OutcomeDeclined:
		if err := move(p, store.StatusDeclined); err != nil {
			return err
		}
		p.ReasonCode, p.Reason, p.DeclinedAt = ar.ReasonCode, ar.Reason, now
	default:
		return fmt.Errorf("acquirer answered outcome %v", ar.Outcome)
	}
	p.UpdatedAt = now
	return nil
}

// Complete3DSCommand finishes 3-D Secure with the ACS's PaRes.
type Complete3DSCommand struct {
	MerchantID     string `json:"-" validate:"required"`
	PaymentID      string `json:"payment_id" field:"payment_id" validate:"required_without=TransactionID,max=64"`
	TransactionID  int64  `json:"transaction_id" field:"transaction_id" validate:"gte=0"`
	PaRes          string `json:"pa_res" field:"pa_res" validate:"required,max=8192"`
	IdempotencyKey string `json:"-" field:"idempotency_key" validate:"max=128"`
}

// Complete3DS asks the acquirer to finish authentication and records the
// outcome. Repeating it after it finished answers the payment as it stands.
func (e *Engine) Complete3DS(ctx context.Context, cmd Complete3DSCommand) (*Result, error) {
	if err := e.check(cmd); err != nil {
		return nil, err
	}
	p, err := e.find(ctx, cmd.MerchantID, cmd.PaymentID, cmd.TransactionID)
	if err != nil {
		return nil, err
	}
	switch p.Status {
	case store.StatusAwaitingAuthentication:
	case store.StatusAuthorized, store.StatusCompleted, store.StatusDeclined:
		if p.ACSURL != "" { // it went through 3-D Secure and is done
			return e.result(ctx, p)
		}
		return nil, opNotAllowed("complete 3-D Secure of", p.Status)
	default:
		return nil, opNotAllowed("complete 3-D Secure of", p.Status)
	}
	ar, err := e.acquirer.Complete3DS(ctx, p.ID, cmd.PaRes)
	switch {
	case errors.Is(err, acquirer.ErrBadPaRes):
		return nil, ErrBadPaRes
	case err != nil:
		e.log.WarnContext(ctx, "3-D Secure completion failed", "payment", p.ID, "err", err)
		return nil, ErrAcquirerUnavailable
	}
	wctx, cancel := background(ctx)
	defer cancel()
	return e.settleAuthorization(wctx, p, nil, ar, store.StatusAwaitingAuthentication, nil)
}

// Complete3DSByMD finishes 3-D Secure for the payment whose transaction
// number is md, whichever merchant's it is: altyn's own TermUrl page calls
// it with what the ACS posted, so the payer's browser completes the payment.
func (e *Engine) Complete3DSByMD(ctx context.Context, md int64, paRes string) (*Result, error) {
	merchantID, err := e.store.MerchantOfTransaction(ctx, md)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return e.Complete3DS(ctx, Complete3DSCommand{MerchantID: merchantID, TransactionID: md, PaRes: paRes})
}

// openError names why a cryptogram did not open; none of these reveals
// anything of its content.
func openError(err error) error {
	switch {
	case errors.Is(err, cryptogram.ErrMalformed):
		return cryptogramError("CRYPTOGRAM_MALFORMED", "the cryptogram is malformed")
	case errors.Is(err, cryptogram.ErrUnknownKey):
		return cryptogramError("CRYPTOGRAM_UNKNOWN_KEY", "the cryptogram was made with a key this merchant does not have")
	case errors.Is(err, cryptogram.ErrRetiredKey):
		return cryptogramError("CRYPTOGRAM_RETIRED_KEY", "the cryptogram was made with a retired key; fetch the current key")
	case errors.Is(err, cryptogram.ErrUnsupportedSuite):
		return cryptogramError("CRYPTOGRAM_UNSUPPORTED_SUITE", "the cryptogram's algorithms are not supported")
	case errors.Is(err, cryptogram.ErrWrongMerchant):
		return cryptogramError("CRYPTOGRAM_WRONG_MERCHANT", "the cryptogram was made for another merchant")
	case errors.Is(err, cryptogram.ErrTooOld):
		return cryptogramError("CRYPTOGRAM_EXPIRED", "the cryptogram is too old; make a new one")
	case errors.Is(err, cryptogram.ErrBindingMismatch):
		return cryptogramError("CRYPTOGRAM_BINDING_MISMATCH", "the cryptogram was sealed for another amount, currency or invoice")
	case errors.Is(err, cryptogram.ErrDecrypt):
		return cryptogramError("CRYPTOGRAM_DECRYPT", "the cryptogram cannot be decrypted")
	}
	var fe cryptogram.FieldErrors
	if errors.As(err, &fe) {
		return cryptogramError("CRYPTOGRAM_CARD_INVALID", "the sealed card is invalid: "+fe.Error())
	}
	return cryptogramError("CRYPTOGRAM_INVALID", "the cryptogram cannot be opened")
}
