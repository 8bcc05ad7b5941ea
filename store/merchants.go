package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Merchant is a site that takes payments through altyn.
type Merchant struct {
	ID              string
	PublicID        string
	Name            string
	SecretWrapped   []byte // the API secret, wrapped by the master key
	TestMode        bool
	AutoCaptureDays int // 0: authorizations are voided after 7 days; N: captured after N days
	CreatedAt       time.Time
}

// MerchantKey is one cryptogram key pair of a merchant.
type MerchantKey struct {
	MerchantID     string
	KeyID          string
	PublicKey      string // the cryptogram package's text form
	PrivateWrapped []byte // the private key, wrapped by the master key
	CreatedAt      time.Time
	RetiredAt      time.Time // zero while the key opens cryptograms
}

// CreateMerchant stores a merchant together with its first cryptogram key.
func (s *Store) CreateMerchant(ctx context.Context, m Merchant, key MerchantKey) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO merchants (id, public_id, name, secret_wrapped, test_mode, auto_capture_days, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			m.ID, m.PublicID, m.Name, m.SecretWrapped, m.TestMode, nullInt(m.AutoCaptureDays), m.CreatedAt); err != nil {
			return fmt.Errorf("insert merchant: %w", classify(err))
		}
		return insertKey(ctx, tx, key)
	})
}

// AddMerchantKey stores a new cryptogram key; the newest key is the current one.
func (s *Store) AddMerchantKey(ctx context.Context, key MerchantKey) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error { return insertKey(ctx, tx, key) })
}

func insertKey(ctx context.Context, tx pgx.Tx, k MerchantKey) error {
	if _, err := tx.Exec(ctx, `INSERT INTO merchant_keys (merchant_id, key_id, public_key, private_wrapped, created_at)
		VALUES ($1, $2, $3, $4, $5)`, k.MerchantID, k.KeyID, k.PublicKey, k.PrivateWrapped, k.CreatedAt); err != nil {
		return fmt.Errorf("insert key: %w", classify(err))
	}
	return nil
}

// RetireMerchantKey stops a key from opening cryptograms.
func (s *Store) RetireMerchantKey(ctx context.Context, merchantID, keyID string, at time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE merchant_keys SET retired_at = $3 WHERE merchant_id = $1 AND key_id = $2 AND retired_at IS NULL`,
		merchantID, keyID, at)
	if err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

const merchantColumns = `id, public_id, name, secret_wrapped, test_mode, COALESCE(auto_capture_days, 0), created_at`

func scanMerchant(row pgx.Row) (*Merchant, error) {
	var m Merchant
	if err := row.Scan(&m.ID, &m.PublicID, &m.Name, &m.SecretWrapped, &m.TestMode, &m.AutoCaptureDays, &m.CreatedAt); err != nil {
		return nil, classify(err)
	}
	return &m, nil
}

// MerchantByPublicID reads a merchant by its public id.
func (s *Store) MerchantByPublicID(ctx context.Context, publicID string) (*Merchant, error) {
	return scanMerchant(s.db.QueryRow(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE public_id = $1`, publicID))
}

// Merchant reads a merchant by id.
func (s *Store) Merchant(ctx context.Context, id string) (*Merchant, error) {
	return scanMerchant(s.db.QueryRow(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE id = $1`, id))
}

// MerchantKeys lists a merchant's keys, newest first, retired ones included.
func (s *Store) MerchantKeys(ctx context.Context, merchantID string) ([]MerchantKey, error) {
	list, err := collect(ctx, s.db, func(row pgx.Row) (MerchantKey, error) {
		var k MerchantKey
		var retired *time.Time
		err := row.Scan(&k.MerchantID, &k.KeyID, &k.PublicKey, &k.PrivateWrapped, &k.CreatedAt, &retired)
		k.RetiredAt = timeVal(retired)
		return k, err
	}, `SELECT merchant_id, key_id, public_key, private_wrapped, created_at, retired_at
		FROM merchant_keys WHERE merchant_id = $1 ORDER BY created_at DESC, key_id DESC`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return list, nil
}

func nullInt(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}
