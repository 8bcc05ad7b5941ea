package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/store"
)

// claim is the idempotency key a command takes, or nil without a key.
func (e *Engine) claim(merchantID, key, op string, hash []byte, paymentID string) *store.Idempotency {
	if key == "" {
		return nil
	}
	return &store.Idempotency{MerchantID: merchantID, Key: key, Operation: op, RequestHash: hash, PaymentID: paymentID}
}

// answerOf is the claim with the command's answer filled in (nil without a key).
func answerOf(claim *store.Idempotency, res *Result) *store.Idempotency {
	if claim == nil {
		return nil
	}
	a := *claim
	a.Response, _ = json.Marshal(res)
	return &a
}

// replay answers a repeated request: done is false when the key is new.
// The same key with other parameters is an error; with the same ones it
// gets the first answer, waiting for it while the first request runs. If
// the first request's answer never came (its acquirer call was lost), the
// payment as it stands now is the answer.
func (e *Engine) replay(ctx context.Context, merchantID, key, op string, hash []byte) (res *Result, done bool, err error) {
	if key == "" {
		return nil, false, nil
	}
	deadline := time.Now().Add(e.cfg.IdempotencyWait)
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		rec, err := e.store.Idempotency(ctx, merchantID, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, true, fmt.Errorf("read idempotency key: %w", err)
		}
		if rec.Operation != op || !bytes.Equal(rec.RequestHash, hash) {
			return nil, true, ErrIdempotencyMismatch
		}
		if rec.Response != nil {
			var r Result
			if err := json.Unmarshal(rec.Response, &r); err != nil {
				return nil, true, fmt.Errorf("decode stored answer: %w", err)
			}
			if p := r.Payment; p != nil && len(p.Recurrent) > 0 && p.SubscriptionID == "" {
				// The plan's subscription is made after the answer is
				// stored (an OnApproved hook): name it as the first
				// answer did.
				if cur, err := e.store.Payment(ctx, merchantID, p.ID); err == nil {
					p.SubscriptionID = cur.SubscriptionID
				}
			}
			return &r, true, nil
		}
		if time.Now().After(deadline) {
			p, err := e.store.Payment(ctx, merchantID, rec.PaymentID)
			if err != nil {
				return nil, true, fmt.Errorf("read payment of idempotency key: %w", err)
			}
			res, err := e.result(ctx, p)
			return res, true, err
		}
		select {
		case <-ctx.Done():
			return nil, true, ctx.Err()
		case <-time.After(wait):
		}
	}
}
