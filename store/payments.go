package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PaymentStatus is a payment's state; the allowed moves between states are
// the payment engine's transition table.
type PaymentStatus string

// The payment statuses (CloudPayments' names, plus Pending while an
// acquirer's answer is outstanding).
const (
	StatusPending                PaymentStatus = "Pending"
	StatusAwaitingAuthentication PaymentStatus = "AwaitingAuthentication"
	StatusAuthorized             PaymentStatus = "Authorized"
	StatusCompleted              PaymentStatus = "Completed"
	StatusCancelled              PaymentStatus = "Cancelled"
	StatusDeclined               PaymentStatus = "Declined"
)

// Payment is one row of payments.
type Payment struct {
	ID               string
	MerchantID       string
	TransactionID    int64
	Status           PaymentStatus
	TwoStage         bool
	Amount           int64
	Currency         string
	AuthorizedAmount int64
	CapturedAmount   int64
	RefundedAmount   int64
	InvoiceID        string
	AccountID        string
	Description      string
	Email            string
	IPAddress        string
	CardholderName   string
	Data             json.RawMessage // the merchant's free JSON object, or nil
	CardFirstSix     string
	CardLastFour     string
	CardBrand        string
	CardExpMonth     int
	CardExpYear      int
	AuthCode         string
	ReasonCode       int
	Reason           string
	ACSURL           string
	PaReq            string
	TestMode         bool
	// TokenID is the saved card this payment paid with or created.
	TokenID string
	// Recurrent is the recurrent plan the payment asked for (JSON of
	// subscriptions.Plan), or nil: once approved, it starts a subscription.
	Recurrent json.RawMessage
	// SubscriptionID is the subscription that charged this payment, or the
	// one this payment started.
	SubscriptionID string
	// PendingOp names an acquirer call whose answer was lost ("capture",
	// "void"); the resolver finishes it. Empty when altyn and the acquirer agree.
	PendingOp    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	AuthorizedAt time.Time
	CapturedAt   time.Time
	CancelledAt  time.Time
	DeclinedAt   time.Time
	ExpiresAt    time.Time
}

// RefundStatus is a refund's state.
type RefundStatus string

// Refund statuses: Pending from the reservation of its amount until the
// acquirer confirms it.
const (
	RefundPending   RefundStatus = "Pending"
	RefundCompleted RefundStatus = "Completed"
)

// Refund is one row of refunds.
type Refund struct {
	ID            string
	PaymentID     string
	MerchantID    string
	TransactionID int64
	Amount        int64
	Status        RefundStatus
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Idempotency is a merchant's idempotency key and what it is bound to.
type Idempotency struct {
	MerchantID  string
	Key         string
	Operation   string
	RequestHash []byte
	PaymentID   string
	Response    []byte // nil until the first request finished
}

// Effects are the writes that commit together with a payment's change.
type Effects struct {
	Claim         *Idempotency // insert this idempotency key (ErrKeyUsed if it exists)
	Answer        *Idempotency // store the response of this key
	Release       *Idempotency // delete this key (the request failed and may be retried)
	InsertRefund  *Refund
	UpdateRefund  *Refund // status change of an existing refund
	DeleteRefund  *Refund // a refund the acquirer refused
	SaveToken     *Token  // a card to save (or revive) for the payment's account
	ActivateToken string  // a token saved inactive whose payment succeeded
	DropToken     string  // a token saved inactive whose payment failed: erase its card
	Outbox        []OutboxMessage
}

// More errors of the payment writes.
var (
	// ErrKeyUsed: the idempotency key already exists.
	ErrKeyUsed = errors.New("idempotency key already used")
	// ErrCryptogramUsed: this cryptogram has paid before.
	ErrCryptogramUsed = errors.New("cryptogram already used")
)

const paymentColumns = `id, merchant_id, transaction_id, status, two_stage, amount, currency,
	authorized_amount, captured_amount, refunded_amount, invoice_id, account_id, description, email,
	ip_address, cardholder_name, data, card_first_six, card_last_four, card_brand, card_exp_month,
	card_exp_year, auth_code, reason_code, reason, acs_url, pa_req, test_mode, pending_op,
	created_at, updated_at, authorized_at, captured_at, cancelled_at, declined_at, expires_at, token_id,
	recurrent, subscription_id`

// CardMask is how a stored card is shown: its first six digits, six
// asterisks, its last four ("424242******4242"). The full number is never
// stored, so its length is unknown.
func CardMask(firstSix, lastFour string) string { return firstSix + "******" + lastFour }

// insertPaymentSQL inserts one payment of paymentArgs.
const insertPaymentSQL = `INSERT INTO payments (` + paymentColumns + `) VALUES (
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39)`

func scanPayment(row pgx.Row) (*Payment, error) {
	var p Payment
	var status string
	var auth, capt, canc, decl, exp *time.Time
	err := row.Scan(&p.ID, &p.MerchantID, &p.TransactionID, &status, &p.TwoStage, &p.Amount, &p.Currency,
		&p.AuthorizedAmount, &p.CapturedAmount, &p.RefundedAmount, &p.InvoiceID, &p.AccountID, &p.Description, &p.Email,
		&p.IPAddress, &p.CardholderName, &p.Data, &p.CardFirstSix, &p.CardLastFour, &p.CardBrand, &p.CardExpMonth,
		&p.CardExpYear, &p.AuthCode, &p.ReasonCode, &p.Reason, &p.ACSURL, &p.PaReq, &p.TestMode, &p.PendingOp,
		&p.CreatedAt, &p.UpdatedAt, &auth, &capt, &canc, &decl, &exp, &p.TokenID,
		&p.Recurrent, &p.SubscriptionID)
	if err != nil {
		return nil, classify(err)
	}
	p.Status = PaymentStatus(status)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.AuthorizedAt, p.CapturedAt, p.CancelledAt = timeVal(auth), timeVal(capt), timeVal(canc)
	p.DeclinedAt, p.ExpiresAt = timeVal(decl), timeVal(exp)
	return &p, nil
}

func paymentArgs(p *Payment) []any {
	var data, recurrent any
	if len(p.Data) > 0 {
		data = string(p.Data)
	}
	if len(p.Recurrent) > 0 {
		recurrent = string(p.Recurrent)
	}
	return []any{p.ID, p.MerchantID, p.TransactionID, string(p.Status), p.TwoStage, p.Amount, p.Currency,
		p.AuthorizedAmount, p.CapturedAmount, p.RefundedAmount, p.InvoiceID, p.AccountID, p.Description, p.Email,
		p.IPAddress, p.CardholderName, data, p.CardFirstSix, p.CardLastFour, p.CardBrand, p.CardExpMonth,
		p.CardExpYear, p.AuthCode, p.ReasonCode, p.Reason, p.ACSURL, p.PaReq, p.TestMode, p.PendingOp,
		p.CreatedAt, p.UpdatedAt, timePtr(p.AuthorizedAt), timePtr(p.CapturedAt), timePtr(p.CancelledAt),
		timePtr(p.DeclinedAt), timePtr(p.ExpiresAt), p.TokenID, recurrent, p.SubscriptionID}
}

// CreatePayment inserts a new payment together with its idempotency claim
// (if any) and the digest of the cryptogram that pays it, in one statement
// and so one transaction: either all three exist or none.
func (s *Store) CreatePayment(ctx context.Context, p *Payment, claim *Idempotency, digest []byte) error {
	args := paymentArgs(p)
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	var with []string
	if digest != nil {
		with = append(with, `d AS (INSERT INTO used_cryptograms (digest, merchant_id, payment_id, used_at)
			VALUES (`+arg(digest)+`, $2, $1, `+arg(p.CreatedAt)+`))`)
	}
	if claim != nil {
		with = append(with, `c AS (INSERT INTO idempotency_keys (merchant_id, idem_key, operation, request_hash, payment_id, created_at)
			VALUES (`+arg(claim.MerchantID)+`, `+arg(claim.Key)+`, `+arg(claim.Operation)+`, `+arg(claim.RequestHash)+`, $1, now()))`)
	}
	sql := insertPaymentSQL
	if len(with) > 0 {
		sql = `WITH ` + strings.Join(with, ", ") + " " + sql
	}
	_, err := s.db.Exec(ctx, sql, args...)
	if pg, ok := errors.AsType[*pgconn.PgError](err); ok && pg.Code == "23505" {
		switch pg.TableName {
		case "used_cryptograms":
			return ErrCryptogramUsed
		case "idempotency_keys":
			return ErrKeyUsed
		}
	}
	if err != nil {
		return fmt.Errorf("insert payment: %w", classify(err))
	}
	return nil
}

// ModifyPayment changes one payment in one retried transaction: it reads the
// row under a lock (SELECT … FOR UPDATE), lets fn change it and name the
// effects that go with the change, then writes the row guarded by the status
// it was read in. fn must only compute (it may run several times).
// It returns the payment as written.
func (s *Store) ModifyPayment(ctx context.Context, merchantID, paymentID string, fn func(p *Payment) (Effects, error)) (*Payment, error) {
	return s.modifyPayment(ctx, merchantID, paymentID, nil, fn)
}

// ModifyPaymentFrom is ModifyPayment for a caller that holds the row as it
// was last written or read (snap): the first try skips the read, gives fn
// a copy of snap and writes guarded by snap's status and updated_at. If
// the row has changed since, or fn fails on the copy (its error may come
// from a stale state), the row is read under a lock and fn runs again as
// in ModifyPayment.
func (s *Store) ModifyPaymentFrom(ctx context.Context, snap *Payment, fn func(p *Payment) (Effects, error)) (*Payment, error) {
	p, err := s.modifyPayment(ctx, snap.MerchantID, snap.ID, snap, fn)
	if errors.Is(err, ErrStale) || errors.Is(err, errSnapshotRefused) {
		return s.modifyPayment(ctx, snap.MerchantID, snap.ID, nil, fn)
	}
	return p, err
}

// errSnapshotRefused: fn failed on a snapshot; ModifyPaymentFrom reads the row.
var errSnapshotRefused = errors.New("fn refused the snapshot")

func (s *Store) modifyPayment(ctx context.Context, merchantID, paymentID string, snap *Payment, fn func(p *Payment) (Effects, error)) (*Payment, error) {
	var out *Payment
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var p *Payment
		var unchangedSince *time.Time // with a snapshot: the updated_at it was written with
		if snap != nil {
			c := *snap
			p, unchangedSince = &c, &snap.UpdatedAt
		} else {
			var err error
			p, err = scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
				paymentID, merchantID))
			if err != nil {
				return err
			}
		}
		from := p.Status
		eff, err := fn(p)
		if err != nil && snap != nil {
			return errSnapshotRefused
		}
		if err != nil {
			return err
		}
		// The update and its effects go to the database as one batch: one
		// round trip. A failed guard or effect rolls the whole batch back.
		var w writes
		if eff.Claim != nil {
			queueClaim(&w, eff.Claim)
		}
		queuePaymentUpdate(&w, p, from, unchangedSince)
		queueEffects(&w, eff)
		if err := w.send(ctx, tx); err != nil {
			return err
		}
		if t := eff.SaveToken; t != nil && t.ID != p.TokenID {
			// The account had this card saved already: point at that token.
			p.TokenID = t.ID
			if _, err := tx.Exec(ctx, `UPDATE payments SET token_id = $2 WHERE id = $1`, p.ID, t.ID); err != nil {
				return fmt.Errorf("link token: %w", err)
			}
		}
		out = p
		return nil
	})
	return out, err
}

// queuePaymentUpdate writes p's mutable columns, guarded by the status it
// was read in (and, when unchangedSince is set, its updated_at): ErrStale if
// the row is no longer so.
func queuePaymentUpdate(w *writes, p *Payment, from PaymentStatus, unchangedSince *time.Time) {
	w.queue(func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("update payment: %w", classify(err))
		}
		if tag.RowsAffected() != 1 {
			return ErrStale
		}
		return nil
	}, `UPDATE payments SET status = $3, authorized_amount = $4, captured_amount = $5,
		refunded_amount = $6, auth_code = $7, reason_code = $8, reason = $9, acs_url = $10, pa_req = $11,
		pending_op = $12, updated_at = $13, authorized_at = $14, captured_at = $15, cancelled_at = $16,
		declined_at = $17, expires_at = $18, token_id = $20
		WHERE id = $1 AND merchant_id = $2 AND status = $19 AND ($21::TIMESTAMPTZ IS NULL OR updated_at = $21)`,
		p.ID, p.MerchantID, string(p.Status), p.AuthorizedAmount, p.CapturedAmount,
		p.RefundedAmount, p.AuthCode, p.ReasonCode, p.Reason, p.ACSURL, p.PaReq,
		p.PendingOp, p.UpdatedAt, timePtr(p.AuthorizedAt), timePtr(p.CapturedAt), timePtr(p.CancelledAt),
		timePtr(p.DeclinedAt), timePtr(p.ExpiresAt), string(from), p.TokenID, unchangedSince)
}

func queueClaim(w *writes, c *Idempotency) {
	w.queue(func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			if errors.Is(classify(err), ErrDuplicate) {
				return ErrKeyUsed
			}
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		return nil
	}, `INSERT INTO idempotency_keys (merchant_id, idem_key, operation, request_hash, payment_id, created_at)
		VALUES ($1, $2, $3, $4, $5, now())`, c.MerchantID, c.Key, c.Operation, c.RequestHash, c.PaymentID)
}

func queueEffects(w *writes, e Effects) {
	if a := e.Answer; a != nil {
		w.exec("store answer", `UPDATE idempotency_keys SET response = $3 WHERE merchant_id = $1 AND idem_key = $2`,
			a.MerchantID, a.Key, a.Response)
	}
	if r := e.Release; r != nil {
		w.exec("release key", `DELETE FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2`, r.MerchantID, r.Key)
	}
	if r := e.InsertRefund; r != nil {
		w.queue(func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("insert refund: %w", classify(err))
			}
			return nil
		}, `INSERT INTO refunds (id, payment_id, merchant_id, transaction_id, amount, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ID, r.PaymentID, r.MerchantID, r.TransactionID, r.Amount, string(r.Status), r.CreatedAt, r.UpdatedAt)
	}
	if r := e.UpdateRefund; r != nil {
		w.queue(func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("update refund: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return ErrStale // someone else settled it first
			}
			return nil
		}, `UPDATE refunds SET status = $2, updated_at = $3 WHERE id = $1 AND status = 'Pending'`, r.ID, string(r.Status), r.UpdatedAt)
	}
	if t := e.SaveToken; t != nil {
		queueSaveToken(w, t)
	}
	if id := e.ActivateToken; id != "" {
		w.exec("activate token", `UPDATE tokens SET deleted_at = NULL WHERE id = $1`, id)
	}
	if id := e.DropToken; id != "" {
		w.exec("drop token", `UPDATE tokens SET pan_sealed = '\x'::BYTEA, key_wrapped = '\x'::BYTEA
			WHERE id = $1 AND deleted_at IS NOT NULL`, id)
	}
	for _, m := range e.Outbox {
		w.exec("insert outbox", insertOutboxSQL, outboxArgs(m)...)
	}
	if r := e.DeleteRefund; r != nil {
		w.exec("delete refund", `DELETE FROM refunds WHERE id = $1 AND status = 'Pending'`, r.ID)
	}
}

// Payment reads one of a merchant's payments by id.
func (s *Store) Payment(ctx context.Context, merchantID, id string) (*Payment, error) {
	return scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// PaymentByTransactionID reads one of a merchant's payments by its number.
func (s *Store) PaymentByTransactionID(ctx context.Context, merchantID string, txid int64) (*Payment, error) {
	return scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE transaction_id = $1 AND merchant_id = $2`, txid, merchantID))
}

// MerchantOfTransaction names the merchant of a payment by its number.
func (s *Store) MerchantOfTransaction(ctx context.Context, txid int64) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, `SELECT merchant_id FROM payments WHERE transaction_id = $1`, txid).Scan(&id); err != nil {
		return "", classify(err)
	}
	return id, nil
}

// PaymentByInvoice reads the merchant's latest payment of an invoice id.
func (s *Store) PaymentByInvoice(ctx context.Context, merchantID, invoiceID string) (*Payment, error) {
	return scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE merchant_id = $1 AND invoice_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1`, merchantID, invoiceID))
}

// PaymentFilter selects payments for ListPayments.
type PaymentFilter struct {
	Statuses    []PaymentStatus
	AccountID   string
	CreatedFrom time.Time // inclusive; zero = no bound
	CreatedTo   time.Time // exclusive; zero = no bound
	PageSize    int
	PageToken   string // from the previous page
}

// ListPayments pages through a merchant's payments, newest first. The page
// token is the position (created_at, id) of the last payment returned.
func (s *Store) ListPayments(ctx context.Context, merchantID string, f PaymentFilter) ([]*Payment, string, error) {
	where := []string{"merchant_id = $1"}
	args := []any{merchantID}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	if f.AccountID != "" {
		where = append(where, "account_id = "+arg(f.AccountID))
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "created_at >= "+arg(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		where = append(where, "created_at < "+arg(f.CreatedTo))
	}
	if f.PageToken != "" {
		at, id, err := decodeCursor(f.PageToken)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) < ("+arg(at)+", "+arg(id)+")")
	}
	list, err := s.listPayments(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT `+arg(f.PageSize+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list payments: %w", err)
	}
	next := ""
	if len(list) > f.PageSize {
		list = list[:f.PageSize]
		last := list[len(list)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return list, next, nil
}

// ErrBadCursor: a page token that this store did not make.
var ErrBadCursor = errors.New("malformed page token")

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "|" + id))
}

func decodeCursor(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	us, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", ErrBadCursor
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// Refunds lists a payment's refunds, oldest first.
func (s *Store) Refunds(ctx context.Context, paymentID string) ([]Refund, error) {
	list, err := collect(ctx, s.db, scanRefund, `SELECT id, payment_id, merchant_id, transaction_id, amount, status, created_at, updated_at
		FROM refunds WHERE payment_id = $1 ORDER BY created_at, id`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	return list, nil
}

func scanRefund(row pgx.Row) (Refund, error) {
	var r Refund
	var st string
	err := row.Scan(&r.ID, &r.PaymentID, &r.MerchantID, &r.TransactionID, &r.Amount, &st, &r.CreatedAt, &r.UpdatedAt)
	r.Status = RefundStatus(st)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, err
}

// Idempotency reads a merchant's idempotency key.
func (s *Store) Idempotency(ctx context.Context, merchantID, key string) (*Idempotency, error) {
	var i Idempotency
	err := s.db.QueryRow(ctx, `SELECT merchant_id, idem_key, operation, request_hash, payment_id, response
		FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2`, merchantID, key).
		Scan(&i.MerchantID, &i.Key, &i.Operation, &i.RequestHash, &i.PaymentID, &i.Response)
	if err != nil {
		return nil, classify(err)
	}
	return &i, nil
}

// Unsettled lists payments the resolver must finish: Pending ones and those
// with an acquirer call whose answer was lost, untouched since before.
func (s *Store) Unsettled(ctx context.Context, before time.Time, limit int) ([]*Payment, error) {
	return s.listPayments(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE (status = 'Pending' OR pending_op <> '') AND updated_at < $1 ORDER BY updated_at LIMIT $2`, before, limit)
}

// DueAuthorizations lists authorizations whose deadline has passed.
func (s *Store) DueAuthorizations(ctx context.Context, now time.Time, limit int) ([]*Payment, error) {
	return s.listPayments(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'Authorized' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now, limit)
}

// StaleAuthentications lists payments left awaiting 3-D Secure since before.
func (s *Store) StaleAuthentications(ctx context.Context, before time.Time, limit int) ([]*Payment, error) {
	return s.listPayments(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'AwaitingAuthentication' AND updated_at < $1 ORDER BY updated_at LIMIT $2`, before, limit)
}

// PendingRefunds lists refunds the acquirer has not confirmed, untouched since before.
func (s *Store) PendingRefunds(ctx context.Context, before time.Time, limit int) ([]Refund, error) {
	list, err := collect(ctx, s.db, scanRefund, `SELECT id, payment_id, merchant_id, transaction_id, amount, status, created_at, updated_at
		FROM refunds WHERE status = 'Pending' AND updated_at < $1 ORDER BY updated_at LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("pending refunds: %w", err)
	}
	return list, nil
}

func (s *Store) listPayments(ctx context.Context, sql string, args ...any) ([]*Payment, error) {
	list, err := collect(ctx, s.db, scanPayment, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return list, nil
}
