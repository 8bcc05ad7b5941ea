package acquirer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// AuthorizationTTL is how long the sandbox keeps an uncaptured hold: after
// it, the authorization is released (StateVoided) and cannot be captured,
// as banks do (CloudPayments allows 7 days to confirm).
const AuthorizationTTL = 7 * 24 * time.Hour

// RefundWindow is how long after the first capture a payment may be
// refunded.
const RefundWindow = 365 * 24 * time.Hour

// maxOpIDLen bounds operation and refund ids.
const maxOpIDLen = 256

// SandboxOptions configures a Sandbox.
type SandboxOptions struct {
	// Secret is the HMAC key that signs PaReq and PaRes. A sandbox started
	// again with the same Secret accepts the PaRes of its previous life.
	// Empty means a random key: 3-D Secure then does not survive a restart.
	Secret []byte
	// ACSBaseURL is the URL where altyn serves Handler(), e.g.
	// "http://127.0.0.1:8080/sandbox/acs". Results carry it as ACSURL, and
	// the ACS page posts the payer's choice back to it. Empty means the page
	// posts back to whatever URL it was served at.
	ACSBaseURL string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sandbox is altyn's test-mode acquirer. It answers by test card numbers
// (SPEC.md §1.5; any other Luhn-valid number approves without 3-D Secure, an
// invalid one declines with 5014), keeps an in-memory ledger so that
// captures, voids and refunds behave like a bank's, serves a 3-D Secure ACS
// page (Handler) and injects faults (Inject). It is safe for concurrent use.
type Sandbox struct {
	secret  []byte
	acsURL  string
	nowFunc func() time.Time

	mu      sync.Mutex
	ops     map[string]*operation
	refunds map[string]refundKey // refund id → what it refunded
	faults  []*Fault
	calls   map[string]int
}

var _ Acquirer = (*Sandbox)(nil)

// operation is one ledger entry.
type operation struct {
	id          string
	fingerprint [sha256.Size]byte // of the Authorize request; zero when restored from a PaRes
	amount      int64
	currency    string
	capture     bool
	mask        string

	state      State
	outcome    Outcome
	authCode   string
	reasonCode int
	paReq      string

	first     *Result // the answer to the first Authorize
	completed *Result // the answer to the first Complete3DS that settled it

	holds        int
	captured     int64
	captures     []int64
	refunded     int64
	refunds      []LedgerRefund
	restored     bool
	expired      bool
	authorizedAt time.Time
	capturedAt   time.Time
	createdAt    time.Time
	updatedAt    time.Time
}

type refundKey struct {
	opID   string
	amount int64
}

// NewSandbox returns a sandbox acquirer with an empty ledger.
func NewSandbox(o SandboxOptions) *Sandbox {
	secret := append([]byte(nil), o.Secret...)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic("acquirer: random sandbox secret: " + err.Error())
		}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Sandbox{
		secret:  secret,
		acsURL:  o.ACSBaseURL,
		nowFunc: now,
		ops:     make(map[string]*operation),
		refunds: make(map[string]refundKey),
		calls:   make(map[string]int),
	}
}

func (s *Sandbox) now() time.Time { return s.nowFunc() }

// Authorize implements Acquirer. The decision follows the test card table;
// the first answer for an OpID is kept and returned to every repeat, and a
// repeat with different parameters is refused with ErrInvalidRequest.
func (s *Sandbox) Authorize(ctx context.Context, r AuthorizeRequest) (Result, error) {
	return call(ctx, s, OpAuthorize, r.OpID, func() (Result, error) { return s.authorize(r) })
}

func (s *Sandbox) authorize(r AuthorizeRequest) (Result, error) {
	if err := checkAuthorize(r); err != nil {
		return Result{}, fmt.Errorf("authorize %s: %w", r.OpID, err)
	}
	fp := s.fingerprint(r)
	if o, ok := s.ops[r.OpID]; ok {
		if o.first == nil {
			// Restored from a PaRes after a restart: the ledger's knowledge
			// is all there is to answer with.
			return s.result(o), nil
		}
		if !hmac.Equal(o.fingerprint[:], fp[:]) {
			return Result{}, fmt.Errorf("authorize %s: operation id reused with different parameters: %w", r.OpID, ErrInvalidRequest)
		}
		return *o.first, nil
	}

	now := s.now()
	card := r.Card
	card.PAN = normalizePAN(card.PAN)
	o := &operation{
		id:          r.OpID,
		fingerprint: fp,
		amount:      r.Amount,
		currency:    r.Currency,
		capture:     r.Capture,
		mask:        card.Mask(),
		createdAt:   now,
	}
	s.ops[r.OpID] = o

	row, ok := cardRow(card.PAN)
	switch {
	case !ok:
		s.settle(o, ReasonInvalidCardNumber)
	case cardExpired(card.ExpMonth, card.ExpYear, now):
		s.settle(o, ReasonExpiredCard)
	case r.Recurring:
		s.settle(o, row.token)
	case row.threeDS && !r.Skip3DS:
		o.state, o.outcome = StatePending3DS, Outcome3DS
		o.paReq = s.signToken(threeDSClaims{
			Kind:     kindPaReq,
			OpID:     r.OpID,
			Amount:   r.Amount,
			Currency: r.Currency,
			Mask:     o.mask,
			Brand:    brandName(card),
			Capture:  r.Capture,
			Decision: row.payment,
			TermURL:  r.TermURL,
			Expires:  now.Add(ThreeDSTTL).Unix(),
		})
		o.updatedAt = now
	default:
		s.settle(o, row.payment)
	}
	res := s.result(o)
	o.first = &res
	return res, nil
}

// checkAuthorize refuses requests no bank would process. The card itself is
// judged by the decision (a bad number declines with 5014), not here.
func checkAuthorize(r AuthorizeRequest) error {
	switch {
	case r.OpID == "" || len(r.OpID) > maxOpIDLen:
		return fmt.Errorf("operation id must be 1–%d bytes: %w", maxOpIDLen, ErrInvalidRequest)
	case r.Amount <= 0:
		return fmt.Errorf("amount %d must be positive: %w", r.Amount, ErrInvalidRequest)
	case !isCurrency(r.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code: %w", r.Currency, ErrInvalidRequest)
	}
	return nil
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// fingerprint identifies an Authorize request's parameters, so a repeat can
// be told from a different payment reusing the id. It is keyed by the
// sandbox secret, so the card number cannot be recovered from it.
func (s *Sandbox) fingerprint(r AuthorizeRequest) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "authorize\x00%s\x00%s\x00%d\x00%d\x00%d\x00%s\x00%t\x00%t\x00%t",
		r.OpID, r.Card.PAN, r.Card.ExpMonth, r.Card.ExpYear, r.Amount, r.Currency, r.Capture, r.Recurring, r.Skip3DS)
	var fp [sha256.Size]byte
	copy(fp[:], m.Sum(nil))
	return fp
}

// settle applies a decision to an operation: approve (code 0) places the
// hold, or the charge when the payment is one-stage; any other code declines.
func (s *Sandbox) settle(o *operation, code int) {
	now := s.now()
	o.updatedAt = now
	o.paReq = ""
	o.reasonCode = code
	if code != ReasonApproved {
		o.state, o.outcome = StateDeclined, OutcomeDeclined
		return
	}
	o.outcome = OutcomeApproved
	o.authCode = s.authCode(o.id)
	o.holds++
	o.authorizedAt = now
	o.state = StateAuthorized
	if o.capture {
		o.state = StateCaptured
		o.captured = o.amount
		o.captures = append(o.captures, o.amount)
		o.capturedAt = now
	}
}

// authCode derives the six-character approval code from the operation id,
// so the same operation gets the same code even across restarts.
func (s *Sandbox) authCode(opID string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("authcode\x00" + opID))
	n := binary.BigEndian.Uint64(m.Sum(nil))
	code := make([]byte, 6)
	for i := range code {
		code[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(code)
}

// result is what the ledger knows of o now.
func (s *Sandbox) result(o *operation) Result {
	r := Result{
		Outcome:    o.outcome,
		State:      o.state,
		AuthCode:   o.authCode,
		ReasonCode: o.reasonCode,
		Amount:     o.amount,
		Currency:   o.currency,
		Captured:   o.captured,
		Refunded:   o.refunded,
	}
	if o.outcome != Outcome3DS {
		r.Reason = ReasonName(o.reasonCode)
	}
	if o.state == StatePending3DS {
		r.ACSURL, r.PaReq = s.acsURL, o.paReq
	}
	return r
}

// Complete3DS implements Acquirer. The PaRes must be signed by this
// sandbox's Secret, be for opID and not be expired; otherwise the answer is
// ErrBadPaRes. The operation need not be in the ledger (the sandbox may have
// restarted since Authorize): the PaRes carries all it takes. The first
// Complete3DS settles the operation; repeats, with any valid PaRes of the
// operation and even after it expired, return the first Result.
func (s *Sandbox) Complete3DS(ctx context.Context, opID, paRes string) (Result, error) {
	return call(ctx, s, OpComplete3DS, opID, func() (Result, error) { return s.complete3DS(opID, paRes) })
}

func (s *Sandbox) complete3DS(opID, paRes string) (Result, error) {
	c, err := s.parseToken(kindPaRes, paRes)
	if err != nil {
		return Result{}, fmt.Errorf("complete3ds %s: %w: %w", opID, ErrBadPaRes, err)
	}
	if c.OpID != opID {
		return Result{}, fmt.Errorf("complete3ds %s: PaRes is for another operation: %w", opID, ErrBadPaRes)
	}
	o := s.ops[opID]
	if o != nil && o.completed != nil {
		return *o.completed, nil
	}
	now := s.now()
	if c.expired(now) {
		return Result{}, fmt.Errorf("complete3ds %s: PaRes expired: %w", opID, ErrBadPaRes)
	}
	switch {
	case o == nil:
		o = &operation{
			id:        opID,
			amount:    c.Amount,
			currency:  c.Currency,
			capture:   c.Capture,
			mask:      c.Mask,
			state:     StatePending3DS,
			outcome:   Outcome3DS,
			restored:  true,
			createdAt: now,
		}
		s.ops[opID] = o
	case o.state != StatePending3DS:
		return Result{}, fmt.Errorf("complete3ds %s: operation is %s, not awaiting authentication: %w", opID, o.state, ErrInvalidRequest)
	case o.amount != c.Amount || o.currency != c.Currency || o.capture != c.Capture:
		return Result{}, fmt.Errorf("complete3ds %s: PaRes does not match the operation: %w", opID, ErrBadPaRes)
	}
	code := c.Decision
	if !c.Confirmed {
		code = ReasonAuthenticationFailed
	}
	s.settle(o, code)
	res := s.result(o)
	o.completed = &res
	return res, nil
}

// lookup returns the ledger entry of opID, with an uncaptured authorization
// older than AuthorizationTTL released.
func (s *Sandbox) lookup(op, opID string) (*operation, error) {
	o, ok := s.ops[opID]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, opID, ErrUnknownOperation)
	}
	if (o.state == StateAuthorized || o.state == StateCaptured) && !o.expired &&
		s.now().Sub(o.authorizedAt) >= AuthorizationTTL {
		o.expired = true
		if o.state == StateAuthorized {
			o.state = StateVoided
			o.updatedAt = s.now()
		}
	}
	return o, nil
}

// Capture implements Acquirer. It takes amount from the hold while
// amount ≤ authorized − captured; several partial captures are allowed until
// AuthorizationTTL ends the hold.
func (s *Sandbox) Capture(ctx context.Context, opID string, amount int64) error {
	_, err := call(ctx, s, OpCapture, opID, func() (struct{}, error) { return struct{}{}, s.capture(opID, amount) })
	return err
}

func (s *Sandbox) capture(opID string, amount int64) error {
	o, err := s.lookup(OpCapture, opID)
	if err != nil {
		return err
	}
	switch {
	case o.state != StateAuthorized && o.state != StateCaptured:
		return fmt.Errorf("capture %s: operation is %s: %w", opID, o.state, ErrInvalidRequest)
	case o.expired:
		return fmt.Errorf("capture %s: authorization expired: %w", opID, ErrInvalidRequest)
	case amount <= 0:
		return fmt.Errorf("capture %s: amount %d must be positive: %w", opID, amount, ErrInvalidRequest)
	case amount > o.amount-o.captured:
		return fmt.Errorf("capture %s: amount %d exceeds the remaining hold %d: %w", opID, amount, o.amount-o.captured, ErrInvalidRequest)
	}
	now := s.now()
	o.captured += amount
	o.captures = append(o.captures, amount)
	o.state = StateCaptured
	if o.capturedAt.IsZero() {
		o.capturedAt = now
	}
	o.updatedAt = now
	return nil
}

// Void implements Acquirer. It releases an authorization of which nothing
// was captured, or cancels an operation still awaiting 3-D Secure. Voiding
// an operation that holds nothing (voided, expired or declined) succeeds and
// changes nothing, so the engine can reverse an operation whose answer it
// lost without knowing that answer. A captured operation needs a refund.
func (s *Sandbox) Void(ctx context.Context, opID string) error {
	_, err := call(ctx, s, OpVoid, opID, func() (struct{}, error) { return struct{}{}, s.void(opID) })
	return err
}

func (s *Sandbox) void(opID string) error {
	o, err := s.lookup(OpVoid, opID)
	if err != nil {
		return err
	}
	switch o.state {
	case StateAuthorized, StatePending3DS:
		o.state = StateVoided
		o.paReq = ""
		o.updatedAt = s.now()
		return nil
	case StateVoided, StateDeclined:
		return nil
	}
	return fmt.Errorf("void %s: operation is %s: %w", opID, o.state, ErrInvalidRequest)
}

// Refund implements Acquirer. It returns amount while refunded + amount ≤
// captured, within RefundWindow of the first capture. A repeat with the same
// refundID changes nothing; the same refundID with another operation or
// amount is refused with ErrInvalidRequest.
func (s *Sandbox) Refund(ctx context.Context, opID, refundID string, amount int64) error {
	_, err := call(ctx, s, OpRefund, opID, func() (struct{}, error) { return struct{}{}, s.refund(opID, refundID, amount) })
	return err
}

func (s *Sandbox) refund(opID, refundID string, amount int64) error {
	o, err := s.lookup(OpRefund, opID)
	if err != nil {
		return err
	}
	if refundID == "" || len(refundID) > maxOpIDLen {
		return fmt.Errorf("refund %s: refund id must be 1–%d bytes: %w", opID, maxOpIDLen, ErrInvalidRequest)
	}
	if k, ok := s.refunds[refundID]; ok {
		if k != (refundKey{opID, amount}) {
			return fmt.Errorf("refund %s: refund id %s reused with different parameters: %w", opID, refundID, ErrInvalidRequest)
		}
		return nil
	}
	now := s.now()
	switch {
	case o.state != StateCaptured:
		return fmt.Errorf("refund %s: operation is %s: %w", opID, o.state, ErrInvalidRequest)
	case amount <= 0:
		return fmt.Errorf("refund %s: amount %d must be positive: %w", opID, amount, ErrInvalidRequest)
	case amount > o.captured-o.refunded:
		return fmt.Errorf("refund %s: amount %d exceeds the refundable %d: %w", opID, amount, o.captured-o.refunded, ErrInvalidRequest)
	case now.Sub(o.capturedAt) > RefundWindow:
		return fmt.Errorf("refund %s: captured more than a year ago: %w", opID, ErrInvalidRequest)
	}
	s.refunds[refundID] = refundKey{opID, amount}
	o.refunded += amount
	o.refunds = append(o.refunds, LedgerRefund{ID: refundID, Amount: amount})
	o.updatedAt = now
	return nil
}

// Status implements Acquirer: the operation's current state and amounts.
func (s *Sandbox) Status(ctx context.Context, opID string) (Result, error) {
	return call(ctx, s, OpStatus, opID, func() (Result, error) {
		o, err := s.lookup(OpStatus, opID)
		if err != nil {
			return Result{}, err
		}
		return s.result(o), nil
	})
}

// LedgerEntry is the sandbox's record of one operation, for tests that
// prove money moved exactly once.
type LedgerEntry struct {
	OpID       string
	State      State
	Outcome    Outcome
	Amount     int64  // authorized (or requested, when declined)
	Currency   string // ISO 4217
	Capture    bool   // requested as a one-stage payment
	CardMask   string // first six and last four digits
	AuthCode   string
	ReasonCode int
	Holds      int            // authorizations placed: 0 or 1, never more
	Captured   int64          // sum of Captures
	Captures   []int64        // each capture, in order (a one-stage payment has one)
	Refunded   int64          // sum of Refunds
	Refunds    []LedgerRefund // each refund, in order
	Restored   bool           // created by Complete3DS from a PaRes after the ledger was lost
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// LedgerRefund is one refund of an operation.
type LedgerRefund struct {
	ID     string
	Amount int64
}

// Ledger returns the ledger entry of opID, and false if the sandbox never
// received the operation. It is not a call to the acquirer: it counts in no
// Calls and no fault applies to it.
func (s *Sandbox) Ledger(opID string) (LedgerEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.lookup("ledger", opID)
	if err != nil {
		return LedgerEntry{}, false
	}
	return LedgerEntry{
		OpID:       o.id,
		State:      o.state,
		Outcome:    o.outcome,
		Amount:     o.amount,
		Currency:   o.currency,
		Capture:    o.capture,
		CardMask:   o.mask,
		AuthCode:   o.authCode,
		ReasonCode: o.reasonCode,
		Holds:      o.holds,
		Captured:   o.captured,
		Captures:   append([]int64(nil), o.captures...),
		Refunded:   o.refunded,
		Refunds:    append([]LedgerRefund(nil), o.refunds...),
		Restored:   o.restored,
		CreatedAt:  o.createdAt,
		UpdatedAt:  o.updatedAt,
	}, true
}
