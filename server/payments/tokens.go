package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/store"
)

// Token errors.
var (
	ErrTokenNotFound = newErr(KindNotFound, "TOKEN_NOT_FOUND", "no such token")
	// ErrForeignToken is CloudPayments' code 6025: a token works only for
	// the site that issued it.
	ErrForeignToken = newErr(KindPermission, "TOKEN_OF_ANOTHER_MERCHANT", "the token belongs to another merchant (6025)")
	ErrTokenAccount = newErr(KindPrecondition, "TOKEN_ACCOUNT_MISMATCH", "the token belongs to another account of this merchant")
)

// cardPurpose binds a saved card's encryption to its merchant and account.
func cardPurpose(merchantID, accountID string) string {
	return "card:" + merchantID + ":" + accountID
}

// newToken prepares a saved card (encrypted under a fresh data key) for the
// account; it is stored only if its payment is approved. An account saving
// the same card again gets its existing token back.
func (e *Engine) newToken(ctx context.Context, merchantID, accountID string, card cryptogram.Card, now time.Time) (*store.Token, error) {
	sealed, wrapped, err := e.master.SealEnvelope([]byte(card.PAN), cardPurpose(merchantID, accountID))
	if err != nil {
		return nil, fmt.Errorf("seal card: %w", err)
	}
	t := &store.Token{
		ID: newID("tok"), MerchantID: merchantID, AccountID: accountID,
		Fingerprint: e.master.MAC("card fingerprint", []byte(card.PAN)),
		PANSealed:   sealed, KeyWrapped: wrapped,
		CardFirstSix: card.First6(), CardLastFour: card.Last4(), CardBrand: string(card.Brand()),
		CardExpMonth: card.ExpMonth, CardExpYear: card.ExpYear, CreatedAt: now,
	}
	old, err := e.store.TokenByFingerprint(ctx, merchantID, accountID, t.Fingerprint)
	switch {
	case err == nil:
		t.ID = old.ID
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return t, nil
}

// tokenCard opens a saved card for a token payment. The CVV is never stored,
// so a token payment carries none.
func (e *Engine) tokenCard(ctx context.Context, m *store.Merchant, cmd PayCommand) (*store.Token, cryptogram.Card, error) {
	t, err := e.store.Token(ctx, cmd.Token)
	if errors.Is(err, store.ErrNotFound) {
		t, err = nil, nil
	}
	if err != nil {
		return nil, cryptogram.Card{}, err
	}
	if err := CheckToken(t, m.ID, cmd.AccountID); err != nil {
		return nil, cryptogram.Card{}, err
	}
	card, err := e.openToken(t)
	return t, card, err
}

// CheckToken says whether a live token (nil if there is none) may pay for
// a merchant's account: ErrTokenNotFound, ErrForeignToken (another
// merchant's, code 6025) or ErrTokenAccount.
func CheckToken(t *store.Token, merchantID, accountID string) error {
	switch {
	case t == nil:
		return ErrTokenNotFound
	case t.MerchantID != merchantID:
		return ErrForeignToken
	case t.AccountID != accountID:
		return ErrTokenAccount
	}
	return nil
}

// openToken opens a token's sealed card number.
func (e *Engine) openToken(t *store.Token) (cryptogram.Card, error) {
	pan, err := e.master.OpenEnvelope(t.PANSealed, t.KeyWrapped, cardPurpose(t.MerchantID, t.AccountID))
	if err != nil {
		return cryptogram.Card{}, fmt.Errorf("open token %s: %w", t.ID, err)
	}
	defer clear(pan)
	return cryptogram.Card{PAN: string(pan), ExpMonth: t.CardExpMonth, ExpYear: t.CardExpYear}, nil
}

// Tokens lists a merchant's saved cards of an account.
func (e *Engine) Tokens(ctx context.Context, merchantID, accountID string) ([]*store.Token, error) {
	if len(accountID) > 100 {
		return nil, invalidFields([]FieldViolation{{Field: "account_id", Code: "max", Description: "account_id must be at most 100"}})
	}
	return e.store.Tokens(ctx, merchantID, accountID)
}

// DeleteToken forgets a saved card.
func (e *Engine) DeleteToken(ctx context.Context, merchantID, tokenID string) error {
	if tokenID == "" {
		return invalidFields([]FieldViolation{{Field: "token", Code: "required", Description: "token is required"}})
	}
	err := e.store.DeleteToken(ctx, merchantID, tokenID, e.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrTokenNotFound
	}
	return err
}
