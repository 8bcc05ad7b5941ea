package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotificationSettings is a merchant's settings for one notification type:
// when Enabled, an HTTP endpoint (if URL is set) and an e-mail address (if
// Email is set) receive each notification of the type.
type NotificationSettings struct {
	MerchantID string
	Type       string // Check, Pay, Fail, Confirm, Refund, Cancel, Recurrent
	Enabled    bool
	URL        string
	Method     string // POST or GET
	Format     string // the notifier's format name
	Email      string
	UpdatedAt  time.Time
}

// The delivery channels.
const (
	ChannelHTTP  = "http"
	ChannelEmail = "email"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The delivery statuses.
const (
	// DeliveryPending: not delivered yet; next_attempt_at says when to try.
	DeliveryPending DeliveryStatus = "Pending"
	// DeliveryDelivered: the receiver accepted it.
	DeliveryDelivered DeliveryStatus = "Delivered"
	// DeliveryFailed: every attempt failed; only a resend tries again.
	DeliveryFailed DeliveryStatus = "Failed"
	// DeliveryCancelled: the merchant turned the channel off before it was delivered.
	DeliveryCancelled DeliveryStatus = "Cancelled"
)

// Delivery is one outbox message on its way over one channel.
type Delivery struct {
	OutboxID      string
	Channel       string
	MerchantID    string
	Type          string
	PaymentID     string
	Target        string // the URL or e-mail address
	Method        string
	Format        string
	Status        DeliveryStatus
	Attempts      int
	MaxAttempts   int // the attempt after which it gives up
	NextAttemptAt time.Time
	LeaseID       string
	LastStatus    int // the HTTP status of the last attempt; 0 if none came back
	LastError     string
	LastLatency   time.Duration
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time
}

// LeasedDelivery is a delivery a worker holds, with its outbox message.
type LeasedDelivery struct {
	Delivery
	Message OutboxMessage
}

// DeliveryAttempt is one try of a delivery.
type DeliveryAttempt struct {
	Attempt    int
	Target     string
	StartedAt  time.Time
	Latency    time.Duration
	HTTPStatus int
	Error      string
}

// DeliveryOutcome is how a delivery stands after an attempt.
type DeliveryOutcome struct {
	Status        DeliveryStatus
	NextAttemptAt time.Time // when Pending
	DeliveredAt   time.Time // when Delivered
}

// DeliveryPlan names the deliveries an outbox message needs under the
// merchant's settings of its type (nil when the merchant has none). It is
// pure: it runs inside a transaction that may be retried.
type DeliveryPlan func(m OutboxMessage, ns *NotificationSettings) []Delivery

const settingsColumns = `merchant_id, type, enabled, url, method, format, email, updated_at`

func scanSettings(row pgx.Row) (NotificationSettings, error) {
	var ns NotificationSettings
	err := row.Scan(&ns.MerchantID, &ns.Type, &ns.Enabled, &ns.URL, &ns.Method, &ns.Format, &ns.Email, &ns.UpdatedAt)
	ns.UpdatedAt = ns.UpdatedAt.UTC()
	return ns, classify(err)
}

// NotificationSettings lists a merchant's settings, by type.
func (s *Store) NotificationSettings(ctx context.Context, merchantID string) ([]NotificationSettings, error) {
	list, err := collect(ctx, s.db, scanSettings, `SELECT `+settingsColumns+` FROM notification_settings WHERE merchant_id = $1 ORDER BY type`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read notification settings: %w", err)
	}
	return list, nil
}

// NotificationSetting reads a merchant's settings of one type (ErrNotFound
// if it has none).
func (s *Store) NotificationSetting(ctx context.Context, merchantID, typ string) (*NotificationSettings, error) {
	ns, err := scanSettings(s.db.QueryRow(ctx, `SELECT `+settingsColumns+` FROM notification_settings WHERE merchant_id = $1 AND type = $2`, merchantID, typ))
	if err != nil {
		return nil, err
	}
	return &ns, nil
}

// SaveNotificationSettings stores a merchant's settings of one type and, in
// the same transaction, points the pending deliveries of that type at them:
// a new URL or address applies to the retries still to come, and a channel
// turned off cancels them.
func (s *Store) SaveNotificationSettings(ctx context.Context, ns NotificationSettings) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO notification_settings (`+settingsColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (merchant_id, type) DO UPDATE SET enabled = excluded.enabled, url = excluded.url,
				method = excluded.method, format = excluded.format, email = excluded.email, updated_at = excluded.updated_at`,
			ns.MerchantID, ns.Type, ns.Enabled, ns.URL, ns.Method, ns.Format, ns.Email, ns.UpdatedAt); err != nil {
			return fmt.Errorf("save notification settings: %w", classify(err))
		}
		const pending = ` WHERE merchant_id = $1 AND type = $2 AND channel = $3 AND status = 'Pending'`
		var err error
		if ns.Enabled && ns.URL != "" {
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET target = $4, method = $5, format = $6, updated_at = $7`+pending,
				ns.MerchantID, ns.Type, ChannelHTTP, ns.URL, ns.Method, ns.Format, ns.UpdatedAt)
		} else {
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET status = 'Cancelled', lease_id = '', updated_at = $4`+pending,
				ns.MerchantID, ns.Type, ChannelHTTP, ns.UpdatedAt)
		}
		if err != nil {
			return fmt.Errorf("retarget deliveries: %w", err)
		}
		if ns.Enabled && ns.Email != "" {
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET target = $4, updated_at = $5`+pending,
				ns.MerchantID, ns.Type, ChannelEmail, ns.Email, ns.UpdatedAt)
		} else {
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET status = 'Cancelled', lease_id = '', updated_at = $4`+pending,
				ns.MerchantID, ns.Type, ChannelEmail, ns.UpdatedAt)
		}
		if err != nil {
			return fmt.Errorf("retarget deliveries: %w", err)
		}
		return nil
	})
}

// NotificationFanOutMark is the creation time of the newest outbox row
// fanned out so far (zero if none): outbox rows older than it, less a safety
// margin, need not be scanned again.
func (s *Store) NotificationFanOutMark(ctx context.Context) (time.Time, error) {
	var at *time.Time
	if err := s.db.QueryRow(ctx, `SELECT max(created_at) FROM notification_fanout`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("read fan-out mark: %w", err)
	}
	return timeVal(at), nil
}

// FanOutNotifications takes up to limit outbox rows created at or after
// from that have not been fanned out, oldest first, skipping rows another
// worker holds, and in one transaction inserts the deliveries plan names for
// each and marks each fanned out (with or without deliveries). It returns
// how many rows it took.
func (s *Store) FanOutNotifications(ctx context.Context, from time.Time, limit int, plan DeliveryPlan) (int, error) {
	taken := 0
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		taken = 0
		rows, err := tx.Query(ctx, `SELECT o.id, o.merchant_id, o.type, o.payment_id, o.subject_id, o.created_at
			FROM outbox o
			WHERE o.created_at >= $1 AND NOT EXISTS (SELECT 1 FROM notification_fanout f WHERE f.outbox_id = o.id)
			ORDER BY o.created_at, o.id LIMIT $2
			FOR UPDATE OF o SKIP LOCKED`, from, limit)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxMessage, error) {
			var m OutboxMessage
			err := row.Scan(&m.ID, &m.MerchantID, &m.Type, &m.PaymentID, &m.SubjectID, &m.CreatedAt)
			m.CreatedAt = m.CreatedAt.UTC()
			return m, err
		})
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(msgs) == 0 {
			return nil
		}
		settings, err := settingsOf(ctx, tx, msgs)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, m := range msgs {
			var ns *NotificationSettings
			if v, ok := settings[m.MerchantID+"\x00"+m.Type]; ok {
				ns = &v
			}
			for _, d := range plan(m, ns) {
				queueInsertDelivery(b, d, false)
			}
			b.Queue(insertFanoutSQL, m.ID, m.CreatedAt)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("fan out: %w", err)
		}
		taken = len(msgs)
		return nil
	})
	return taken, err
}

// settingsOf reads the settings of the merchants and types of msgs, keyed
// by merchant id and type.
func settingsOf(ctx context.Context, tx pgx.Tx, msgs []OutboxMessage) (map[string]NotificationSettings, error) {
	var ids []string
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.MerchantID] {
			seen[m.MerchantID] = true
			ids = append(ids, m.MerchantID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+settingsColumns+` FROM notification_settings WHERE merchant_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read notification settings: %w", err)
	}
	list, err := scanRows(rows, scanSettings)
	if err != nil {
		return nil, fmt.Errorf("read notification settings: %w", err)
	}
	out := make(map[string]NotificationSettings, len(list))
	for _, ns := range list {
		out[ns.MerchantID+"\x00"+ns.Type] = ns
	}
	return out, nil
}

// queueInsertDelivery adds the insert of d to b. With resend, an existing
// delivery is made due at d.NextAttemptAt again, at d's target, with
// d.MaxAttempts more attempts; without, an existing one is left alone.
func queueInsertDelivery(b *pgx.Batch, d Delivery, resend bool) {
	conflict := ` ON CONFLICT (outbox_id, channel) DO NOTHING`
	if resend {
		conflict = ` ON CONFLICT (outbox_id, channel) DO UPDATE SET target = excluded.target, method = excluded.method,
			format = excluded.format, status = 'Pending', next_attempt_at = excluded.next_attempt_at, lease_id = '',
			max_attempts = notification_deliveries.attempts + excluded.max_attempts, updated_at = excluded.updated_at`
	}
	b.Queue(`INSERT INTO notification_deliveries (outbox_id, channel, merchant_id, type, payment_id, target, method, format,
		status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Pending', 0, $9, $10, $11, $12)`+conflict,
		d.OutboxID, d.Channel, d.MerchantID, d.Type, d.PaymentID, d.Target, d.Method, d.Format,
		d.MaxAttempts, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt)
}

const deliveryColumns = `outbox_id, channel, merchant_id, type, payment_id, target, method, format, status, attempts,
	max_attempts, next_attempt_at, lease_id, last_status, last_error, last_latency_ms, created_at, updated_at, delivered_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	var status string
	var latency int64
	var delivered *time.Time
	err := row.Scan(&d.OutboxID, &d.Channel, &d.MerchantID, &d.Type, &d.PaymentID, &d.Target, &d.Method, &d.Format,
		&status, &d.Attempts, &d.MaxAttempts, &d.NextAttemptAt, &d.LeaseID, &d.LastStatus, &d.LastError, &latency,
		&d.CreatedAt, &d.UpdatedAt, &delivered)
	if err != nil {
		return d, classify(err)
	}
	d.Status, d.LastLatency = DeliveryStatus(status), time.Duration(latency)*time.Millisecond
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt, d.DeliveredAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC(), timeVal(delivered)
	return d, nil
}

// LeaseDeliveries takes up to limit pending deliveries due at now, skipping
// rows another worker holds and those whose target is in skipTargets, and
// leases them to leaseID until until: their next_attempt_at moves there, so
// if the worker dies they come due again. Each comes with its outbox message.
func (s *Store) LeaseDeliveries(ctx context.Context, now, until time.Time, leaseID string, limit int, skipTargets []string) ([]LeasedDelivery, error) {
	var out []LeasedDelivery
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		out = nil
		if skipTargets == nil {
			skipTargets = []string{}
		}
		rows, err := tx.Query(ctx, `UPDATE notification_deliveries SET lease_id = $1, next_attempt_at = $2, updated_at = $3
			WHERE (outbox_id, channel) IN (
				SELECT outbox_id, channel FROM notification_deliveries
				WHERE status = 'Pending' AND next_attempt_at <= $3 AND NOT (target = ANY($4))
				ORDER BY next_attempt_at LIMIT $5
				FOR UPDATE SKIP LOCKED)
			RETURNING `+deliveryColumns, leaseID, until, now, skipTargets, limit)
		if err != nil {
			return fmt.Errorf("lease deliveries: %w", err)
		}
		list, err := scanRows(rows, scanDelivery)
		if err != nil {
			return fmt.Errorf("lease deliveries: %w", err)
		}
		if len(list) == 0 {
			return nil
		}
		ids := make([]string, len(list))
		for i, d := range list {
			ids[i] = d.OutboxID
		}
		msgs, err := readOutbox(ctx, tx, `id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		byID := make(map[string]OutboxMessage, len(msgs))
		for _, m := range msgs {
			byID[m.ID] = m
		}
		for _, d := range list {
			out = append(out, LeasedDelivery{Delivery: d, Message: byID[d.OutboxID]})
		}
		return nil
	})
	return out, err
}

const outboxColumns = `id, merchant_id, type, payment_id, subject_id, payload, created_at`

func scanOutbox(row pgx.Row) (OutboxMessage, error) {
	var m OutboxMessage
	var payload string
	err := row.Scan(&m.ID, &m.MerchantID, &m.Type, &m.PaymentID, &m.SubjectID, &payload, &m.CreatedAt)
	m.Payload, m.CreatedAt = []byte(payload), m.CreatedAt.UTC()
	return m, err
}

// insertFanoutSQL marks an outbox message as fanned out to its deliveries.
const insertFanoutSQL = `INSERT INTO notification_fanout (outbox_id, created_at) VALUES ($1, $2) ON CONFLICT (outbox_id) DO NOTHING`

func readOutbox(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]OutboxMessage, error) {
	rows, err := tx.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	msgs, err := scanRows(rows, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return msgs, nil
}

// ReleaseDeliveries gives leased deliveries back unattempted, due at at.
func (s *Store) ReleaseDeliveries(ctx context.Context, leaseID string, at time.Time, keys ...Delivery) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, d := range keys {
			b.Queue(`UPDATE notification_deliveries SET lease_id = '', next_attempt_at = $4, updated_at = $4
				WHERE outbox_id = $1 AND channel = $2 AND lease_id = $3 AND status = 'Pending'`, d.OutboxID, d.Channel, leaseID, at)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("release deliveries: %w", err)
		}
		return nil
	})
}

// AttemptRecord is an attempt of a leased delivery to record, with the
// delivery's state after it.
type AttemptRecord struct {
	Delivery Delivery
	LeaseID  string
	Attempt  DeliveryAttempt
	Outcome  DeliveryOutcome
}

// recordAttempt moves the delivery as the outcome says if the lease still
// holds it, and logs the attempt only then, in one statement.
const recordAttempt = `WITH moved AS (
	UPDATE notification_deliveries SET status = $4, attempts = $5, next_attempt_at = $6,
		lease_id = '', last_status = $7, last_error = $8, last_latency_ms = $9, updated_at = $10,
		delivered_at = COALESCE($11, delivered_at)
	WHERE outbox_id = $1 AND channel = $2 AND lease_id = $3 AND status = 'Pending'
	RETURNING outbox_id)
INSERT INTO notification_attempts (outbox_id, channel, attempt, target, started_at, latency_ms, http_status, error)
SELECT $1, $2, $5, $12, $13, $9, $7, $8 FROM moved
ON CONFLICT (outbox_id, channel, attempt) DO NOTHING`

// RecordDeliveryAttempts records attempts of leased deliveries in one
// transaction (one commit for many deliveries). An attempt whose lease was
// lost (it ran out and another worker took the delivery, or a resend reset
// it) is not recorded: recorded says which were.
func (s *Store) RecordDeliveryAttempts(ctx context.Context, recs []AttemptRecord) (recorded []bool, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		recorded = make([]bool, len(recs))
		var w writes
		for i, r := range recs {
			d, a, out := r.Delivery, r.Attempt, r.Outcome
			w.queue(func(br pgx.BatchResults) error {
				tag, err := br.Exec()
				if err != nil {
					return fmt.Errorf("record attempt: %w", err)
				}
				recorded[i] = tag.RowsAffected() == 1
				return nil
			}, recordAttempt, d.OutboxID, d.Channel, r.LeaseID, string(out.Status), a.Attempt, out.NextAttemptAt,
				a.HTTPStatus, a.Error, a.Latency.Milliseconds(), a.StartedAt.Add(a.Latency), timePtr(out.DeliveredAt),
				a.Target, a.StartedAt)
		}
		return w.send(ctx, tx)
	})
	return recorded, err
}

// RecordDeliveryAttempt records one attempt (RecordDeliveryAttempts), or
// returns ErrStale if the lease was lost.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, d Delivery, leaseID string, a DeliveryAttempt, out DeliveryOutcome) error {
	ok, err := s.RecordDeliveryAttempts(ctx, []AttemptRecord{{Delivery: d, LeaseID: leaseID, Attempt: a, Outcome: out}})
	if err != nil {
		return err
	}
	if !ok[0] {
		return ErrStale
	}
	return nil
}

// DeliveryFilter selects deliveries for ListDeliveries.
type DeliveryFilter struct {
	PaymentID string
	Type      string
	Status    DeliveryStatus
	PageSize  int
	PageToken string // from the previous page
}

// ListDeliveries pages through a merchant's deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, merchantID string, f DeliveryFilter) ([]Delivery, string, error) {
	where := []string{"merchant_id = $1"}
	args := []any{merchantID}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.PaymentID != "" {
		where = append(where, "payment_id = "+arg(f.PaymentID))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.PageToken != "" {
		at, key, err := decodeCursor(f.PageToken)
		if err != nil {
			return nil, "", err
		}
		id, channel, ok := strings.Cut(key, " ")
		if !ok {
			return nil, "", ErrBadCursor
		}
		where = append(where, "(created_at, outbox_id, channel) < ("+arg(at)+", "+arg(id)+", "+arg(channel)+")")
	}
	list, err := collect(ctx, s.db, scanDelivery, `SELECT `+deliveryColumns+` FROM notification_deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, outbox_id DESC, channel DESC LIMIT `+arg(f.PageSize+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	next := ""
	if len(list) > f.PageSize {
		list = list[:f.PageSize]
		last := list[len(list)-1]
		next = encodeCursor(last.CreatedAt, last.OutboxID+" "+last.Channel)
	}
	return list, next, nil
}

// Deliveries reads the deliveries of one of a merchant's outbox messages.
func (s *Store) Deliveries(ctx context.Context, merchantID, outboxID string) ([]Delivery, error) {
	list, err := collect(ctx, s.db, scanDelivery, `SELECT `+deliveryColumns+` FROM notification_deliveries
		WHERE merchant_id = $1 AND outbox_id = $2 ORDER BY channel`, merchantID, outboxID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return list, nil
}

// DeliveryAttempts lists the attempts of a delivery, first first.
func (s *Store) DeliveryAttempts(ctx context.Context, outboxID, channel string) ([]DeliveryAttempt, error) {
	list, err := collect(ctx, s.db, func(row pgx.Row) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		var ms int64
		err := row.Scan(&a.Attempt, &a.Target, &a.StartedAt, &ms, &a.HTTPStatus, &a.Error)
		a.StartedAt, a.Latency = a.StartedAt.UTC(), time.Duration(ms)*time.Millisecond
		return a, err
	}, `SELECT attempt, target, started_at, latency_ms, http_status, error
		FROM notification_attempts WHERE outbox_id = $1 AND channel = $2 ORDER BY attempt`, outboxID, channel)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	return list, nil
}

// OutboxMessage reads one of a merchant's outbox messages.
func (s *Store) OutboxMessage(ctx context.Context, merchantID, id string) (*OutboxMessage, error) {
	msgs, err := collect(ctx, s.db, scanOutbox, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1 AND merchant_id = $2`, id, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	if len(msgs) == 0 {
		return nil, ErrNotFound
	}
	return &msgs[0], nil
}

// ErrNothingToSend: a resend found no channel to send the message over.
var ErrNothingToSend = errors.New("no notification channel is set up for this message")

// ResendNotification makes one of a merchant's outbox messages go out again
// over the channels its type's settings name now (only channel, if not
// empty): existing deliveries become due at the time plan gives, with a
// fresh budget of attempts and the current target; missing ones are
// created. It returns the deliveries as they are after the change, or
// ErrNotFound / ErrNothingToSend.
func (s *Store) ResendNotification(ctx context.Context, merchantID, outboxID, channel string, plan DeliveryPlan) ([]Delivery, error) {
	var out []Delivery
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		out = nil
		msgs, err := readOutbox(ctx, tx, `id = $1 AND merchant_id = $2`, outboxID, merchantID)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return ErrNotFound
		}
		m := msgs[0]
		settings, err := settingsOf(ctx, tx, msgs)
		if err != nil {
			return err
		}
		var ns *NotificationSettings
		if v, ok := settings[m.MerchantID+"\x00"+m.Type]; ok {
			ns = &v
		}
		b := &pgx.Batch{}
		for _, d := range plan(m, ns) {
			if channel == "" || d.Channel == channel {
				queueInsertDelivery(b, d, true)
			}
		}
		if b.Len() == 0 {
			return ErrNothingToSend
		}
		b.Queue(insertFanoutSQL, m.ID, m.CreatedAt)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("resend: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM notification_deliveries WHERE outbox_id = $1 ORDER BY channel`, outboxID)
		if err != nil {
			return fmt.Errorf("read deliveries: %w", err)
		}
		out, err = scanRows(rows, scanDelivery)
		return err
	})
	return out, err
}
