// Package merchants creates merchants, authenticates their API calls and
// keeps their cryptogram keys: the merchant's API secret and the private
// halves of its keys are stored wrapped by the master key.
package merchants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
)

// ErrUnauthenticated: the public id is unknown or the secret does not match.
// The two cases are one error so a caller cannot probe for public ids.
var ErrUnauthenticated = errors.New("invalid public id or API secret")

// ErrNotFound: no merchant has this public id.
var ErrNotFound = errors.New("merchant not found")

// cacheTTL bounds how long a replica keeps a merchant and its keys in memory:
// a key rotated on another replica is seen here within this time.
const cacheTTL = 30 * time.Second

// Service is the merchants' registry.
type Service struct {
	store  *store.Store
	master *vault.MasterKey
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]*entry // by public id
	ids   map[string]string // merchant id → public id
}

type entry struct {
	merchant *store.Merchant
	secret   []byte
	ring     *cryptogram.KeyRing
	current  cryptogram.PublicKey
	loaded   time.Time
}

// New makes the registry.
func New(st *store.Store, master *vault.MasterKey, now func() time.Time) *Service {
	return &Service{store: st, master: master, now: now, cache: map[string]*entry{}, ids: map[string]string{}}
}

// CreateOptions are a new merchant's settings.
type CreateOptions struct {
	Name string
	// TestMode routes payments to the sandbox acquirer.
	TestMode bool
	// AutoCaptureDays, when 1–7, captures authorizations after that many
	// days instead of voiding them after 7.
	AutoCaptureDays int
}

// Created is a new merchant with its API secret, shown once.
type Created struct {
	Merchant *store.Merchant
	Secret   string
}

// Create makes a merchant with a public id, an API secret and a first
// cryptogram key.
func (s *Service) Create(ctx context.Context, o CreateOptions) (*Created, error) {
	if o.Name == "" || len(o.Name) > 200 {
		return nil, errors.New("merchant name must be 1–200 characters")
	}
	if o.AutoCaptureDays < 0 || o.AutoCaptureDays > 7 {
		return nil, errors.New("auto-capture days must be 0 (off) or 1–7")
	}
	now := s.now().UTC()
	m := &store.Merchant{
		ID:              "mer_" + randomText(16),
		PublicID:        "pk_" + randomText(16),
		Name:            o.Name,
		TestMode:        o.TestMode,
		AutoCaptureDays: o.AutoCaptureDays,
		CreatedAt:       now,
	}
	secret := "sk_" + randomText(24)
	m.SecretWrapped = s.master.Wrap([]byte(secret), secretPurpose(m.ID))
	key, err := s.newKey(m.ID, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateMerchant(ctx, *m, key); err != nil {
		return nil, fmt.Errorf("create merchant: %w", err)
	}
	return &Created{Merchant: m, Secret: secret}, nil
}

// RotateKey adds a new current cryptogram key; older keys keep opening
// cryptograms until retired.
func (s *Service) RotateKey(ctx context.Context, m *store.Merchant) (string, error) {
	keys, err := s.store.MerchantKeys(ctx, m.ID)
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	if len(keys) > 0 && !now.After(keys[0].CreatedAt) {
		// The newest key is the current one: keep creation times strictly
		// increasing even under a clock that stands still (tests).
		now = keys[0].CreatedAt.Add(time.Millisecond)
	}
	key, err := s.newKey(m.ID, now)
	if err != nil {
		return "", err
	}
	if err := s.store.AddMerchantKey(ctx, key); err != nil {
		return "", err
	}
	s.forget(m.PublicID)
	return key.KeyID, nil
}

// RetireKey stops a key from opening cryptograms.
func (s *Service) RetireKey(ctx context.Context, m *store.Merchant, keyID string) error {
	if err := s.store.RetireMerchantKey(ctx, m.ID, keyID, s.now().UTC()); err != nil {
		return err
	}
	s.forget(m.PublicID)
	return nil
}

func (s *Service) newKey(merchantID string, now time.Time) (store.MerchantKey, error) {
	keyID := "k" + now.Format("20060102") + "_" + randomText(5)
	priv, err := cryptogram.GenerateKey(keyID)
	if err != nil {
		return store.MerchantKey{}, fmt.Errorf("generate key: %w", err)
	}
	raw, err := priv.MarshalBinary()
	if err != nil {
		return store.MerchantKey{}, err
	}
	pub, err := priv.Public().MarshalText()
	if err != nil {
		return store.MerchantKey{}, err
	}
	return store.MerchantKey{
		MerchantID:     merchantID,
		KeyID:          keyID,
		PublicKey:      string(pub),
		PrivateWrapped: s.master.Wrap(raw, keyPurpose(merchantID, keyID)),
		CreatedAt:      now,
	}, nil
}

// Authenticate checks a merchant's public id and API secret (HTTP Basic).
func (s *Service) Authenticate(ctx context.Context, publicID, secret string) (*store.Merchant, error) {
	e, err := s.load(ctx, publicID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(e.secret, []byte(secret)) != 1 {
		return nil, ErrUnauthenticated
	}
	return e.merchant, nil
}

// ByPublicID finds a merchant by its public id (the public API's only name).
func (s *Service) ByPublicID(ctx context.Context, publicID string) (*store.Merchant, error) {
	e, err := s.load(ctx, publicID)
	if err != nil {
		return nil, err
	}
	return e.merchant, nil
}

// ByID finds a merchant by its id.
func (s *Service) ByID(ctx context.Context, id string) (*store.Merchant, error) {
	s.mu.Lock()
	publicID, ok := s.ids[id]
	s.mu.Unlock()
	if !ok {
		m, err := s.store.Merchant(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("load merchant: %w", err)
		}
		publicID = m.PublicID
	}
	return s.ByPublicID(ctx, publicID)
}

// Secret returns a merchant's API secret (it signs notifications).
func (s *Service) Secret(ctx context.Context, publicID string) (string, error) {
	e, err := s.load(ctx, publicID)
	if err != nil {
		return "", err
	}
	return string(e.secret), nil
}

// CurrentKey is the public key the widget seals cards with.
func (s *Service) CurrentKey(ctx context.Context, publicID string) (cryptogram.PublicKey, error) {
	e, err := s.load(ctx, publicID)
	if err != nil {
		return cryptogram.PublicKey{}, err
	}
	return e.current, nil
}

// KeyRing opens the merchant's cryptograms: every key not retired.
func (s *Service) KeyRing(ctx context.Context, publicID string) (*cryptogram.KeyRing, error) {
	e, err := s.load(ctx, publicID)
	if err != nil {
		return nil, err
	}
	return e.ring, nil
}

func (s *Service) forget(publicID string) {
	s.mu.Lock()
	delete(s.cache, publicID)
	s.mu.Unlock()
}

func (s *Service) load(ctx context.Context, publicID string) (*entry, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.cache[publicID]
	s.mu.Unlock()
	if ok && now.Sub(e.loaded) < cacheTTL && now.Sub(e.loaded) >= 0 {
		return e, nil
	}
	m, err := s.store.MerchantByPublicID(ctx, publicID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load merchant: %w", err)
	}
	secret, err := s.master.Unwrap(m.SecretWrapped, secretPurpose(m.ID))
	if err != nil {
		return nil, fmt.Errorf("merchant %s: %w", m.ID, err)
	}
	keys, err := s.store.MerchantKeys(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	e = &entry{merchant: m, secret: secret, ring: cryptogram.NewKeyRing(), loaded: now}
	for _, k := range keys {
		raw, err := s.master.Unwrap(k.PrivateWrapped, keyPurpose(m.ID, k.KeyID))
		if err != nil {
			return nil, fmt.Errorf("merchant %s key %s: %w", m.ID, k.KeyID, err)
		}
		priv, err := cryptogram.ParsePrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("merchant %s key %s: %w", m.ID, k.KeyID, err)
		}
		e.ring.Add(priv)
		if !k.RetiredAt.IsZero() {
			e.ring.Retire(k.KeyID)
		} else if e.current.KeyID == "" {
			e.current = priv.Public() // the newest key still in service
		}
	}
	s.mu.Lock()
	s.cache[publicID] = e
	s.ids[m.ID] = publicID
	s.mu.Unlock()
	return e, nil
}

func secretPurpose(merchantID string) string { return "merchant-secret:" + merchantID }

func keyPurpose(merchantID, keyID string) string {
	return "cryptogram-key:" + merchantID + ":" + keyID
}

// randomText returns n random bytes as lower-case base32 (no padding).
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
