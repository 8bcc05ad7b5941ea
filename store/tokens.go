package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token is a saved card of a merchant's account.
type Token struct {
	ID           string
	MerchantID   string
	AccountID    string
	Fingerprint  []byte // HMAC of the PAN: finds the same card without decrypting
	PANSealed    []byte // the PAN under the token's data key
	KeyWrapped   []byte // the data key, wrapped by the master key
	CardFirstSix string
	CardLastFour string
	CardBrand    string
	CardExpMonth int
	CardExpYear  int
	CreatedAt    time.Time
	DeletedAt    time.Time
	// Inactive saves the card without letting it pay yet (its payment
	// awaits 3-D Secure); an active token of the same card stays active.
	Inactive bool
}

const tokenColumns = `id, merchant_id, account_id, fingerprint, pan_sealed, key_wrapped, card_first_six,
	card_last_four, card_brand, card_exp_month, card_exp_year, created_at, deleted_at`

func scanToken(row pgx.Row) (*Token, error) {
	var t Token
	var deleted *time.Time
	err := row.Scan(&t.ID, &t.MerchantID, &t.AccountID, &t.Fingerprint, &t.PANSealed, &t.KeyWrapped, &t.CardFirstSix,
		&t.CardLastFour, &t.CardBrand, &t.CardExpMonth, &t.CardExpYear, &t.CreatedAt, &deleted)
	if err != nil {
		return nil, classify(err)
	}
	t.CreatedAt, t.DeletedAt = t.CreatedAt.UTC(), timeVal(deleted)
	return &t, nil
}

// saveToken stores a token, or revives and refreshes the account's existing
// token of the same card; t.ID becomes the stored token's id.
func queueSaveToken(w *writes, t *Token) {
	w.queue(func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&t.ID); err != nil {
			return fmt.Errorf("save token: %w", classify(err))
		}
		return nil
	}, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $13 THEN $12::TIMESTAMPTZ END)
		ON CONFLICT (merchant_id, account_id, fingerprint) DO UPDATE
		SET deleted_at = CASE WHEN $13 THEN tokens.deleted_at END,
			pan_sealed = excluded.pan_sealed, key_wrapped = excluded.key_wrapped,
			card_exp_month = excluded.card_exp_month, card_exp_year = excluded.card_exp_year
		RETURNING id`,
		t.ID, t.MerchantID, t.AccountID, t.Fingerprint, t.PANSealed, t.KeyWrapped, t.CardFirstSix,
		t.CardLastFour, t.CardBrand, t.CardExpMonth, t.CardExpYear, t.CreatedAt, t.Inactive)
}

// Token reads a live token by id, whichever merchant's it is (the caller
// checks the merchant, to tell "another merchant's token" from "no token").
func (s *Store) Token(ctx context.Context, id string) (*Token, error) {
	return scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1 AND deleted_at IS NULL`, id))
}

// TokenByFingerprint finds an account's token of a card, deleted or not.
func (s *Store) TokenByFingerprint(ctx context.Context, merchantID, accountID string, fingerprint []byte) (*Token, error) {
	return scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE merchant_id = $1 AND account_id = $2 AND fingerprint = $3`, merchantID, accountID, fingerprint))
}

// Tokens lists a merchant's live tokens of an account (all accounts when
// accountID is empty), newest first.
func (s *Store) Tokens(ctx context.Context, merchantID, accountID string) ([]*Token, error) {
	list, err := collect(ctx, s.db, scanToken, `SELECT `+tokenColumns+` FROM tokens
		WHERE merchant_id = $1 AND ($2 = '' OR account_id = $2) AND deleted_at IS NULL
		ORDER BY created_at DESC, id DESC LIMIT 1000`, merchantID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return list, nil
}

// DeleteToken forgets a merchant's token: it no longer pays. Its row stays
// (payments refer to it) but its sealed PAN is erased.
func (s *Store) DeleteToken(ctx context.Context, merchantID, id string, at time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE tokens SET deleted_at = $3, pan_sealed = '\x'::BYTEA, key_wrapped = '\x'::BYTEA
		WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`, id, merchantID, at)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
