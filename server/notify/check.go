package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// CheckReasonCode is the decline code of a payment the Check refused or
// could not ask about: CloudPayments' 5003 (InvalidMerchant), whose
// cardholder message is "The shop cannot accept this payment now. Try again
// later or contact the shop." — the payer's bank is not to blame. The
// merchant's answer, or why there was none, is in the payment's Reason.
const CheckReasonCode = acquirer.ReasonInvalidMerchant

// CheckCodes are the answers a Check may give besides 0 (accept), as
// CloudPayments defines them; each declines the payment.
var CheckCodes = map[int]string{
	10: "wrong invoice id",
	11: "wrong account id",
	12: "wrong amount",
	13: "payment cannot be accepted",
	20: "payment expired",
}

// Check asks the merchant's Check URL whether to accept p, before the
// acquirer is asked. A merchant without an enabled Check accepts
// everything. Anything but the answer {"code":0} within CheckTimeout —
// another code, an HTTP error, no answer, an unreachable URL — declines the
// payment with CheckReasonCode and a Reason that says which:
//
//	Check refused: code 12 (wrong amount)
//	Check failed: no answer within 5s
//	Check failed: HTTP 500
//	Check failed: unreachable
//	Check failed: answer without a code
func (n *Notifier) Check(ctx context.Context, p *store.Payment) payments.CheckResult {
	ns, err := n.checkSetting(ctx, p.MerchantID)
	if err != nil {
		// The merchant asked to check every payment; without its settings,
		// refusing is the safe answer.
		n.log.ErrorContext(ctx, "check: read settings", "payment", p.ID, "err", err)
		return declined("Check failed: settings unavailable")
	}
	if ns == nil || !ns.Enabled || ns.URL == "" {
		return payments.CheckResult{Accept: true}
	}
	m, err := n.merchants.ByID(ctx, p.MerchantID)
	if err != nil {
		n.log.ErrorContext(ctx, "check: merchant", "payment", p.ID, "err", err)
		return declined("Check failed: merchant unavailable")
	}
	secret, err := n.merchants.Secret(ctx, m.PublicID)
	if err != nil {
		n.log.ErrorContext(ctx, "check: merchant secret", "payment", p.ID, "err", err)
		return declined("Check failed: merchant unavailable")
	}
	ev := &event{ID: newID("chk"), Type: TypeCheck, Payment: p, CreatedAt: n.now()}
	req, err := render(ev, m, secret, ns.Format, ns.Method, ns.URL, n.now())
	if err != nil {
		n.log.ErrorContext(ctx, "check: render", "payment", p.ID, "err", err)
		return declined("Check failed: cannot render the request")
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.CheckTimeout)
	defer cancel()
	start := time.Now()
	status, answer, err := n.do(cctx, req)
	latency := time.Since(start)
	res := checkResult(status, answer, err, n.cfg.CheckTimeout)
	n.log.InfoContext(ctx, "check", "payment", p.ID, "check", ev.ID, "accept", res.Accept, "reason", res.Reason,
		"http_status", status, "latency_ms", latency.Milliseconds())
	return res
}

func checkResult(status int, answer []byte, err error, timeout time.Duration) payments.CheckResult {
	switch {
	case errors.Is(err, errTimeout):
		return declined(fmt.Sprintf("Check failed: no answer within %s", timeout))
	case errors.Is(err, context.Canceled):
		return declined("Check failed: the payment request was cancelled")
	case err != nil:
		return declined("Check failed: unreachable")
	case status < 200 || status > 299:
		return declined(fmt.Sprintf("Check failed: HTTP %d", status))
	}
	code, ok, err := answerCode(answer)
	switch {
	case err != nil || !ok:
		return declined("Check failed: answer without a code")
	case code == 0:
		return payments.CheckResult{Accept: true}
	}
	what, known := CheckCodes[code]
	if !known {
		what = "unknown code"
	}
	return declined(fmt.Sprintf("Check refused: code %d (%s)", code, what))
}

func declined(reason string) payments.CheckResult {
	return payments.CheckResult{Accept: false, ReasonCode: CheckReasonCode, Reason: reason}
}

// checkSetting reads a merchant's Check settings (nil if it has none),
// from memory when read less than checkTTL ago.
func (n *Notifier) checkSetting(ctx context.Context, merchantID string) (*store.NotificationSettings, error) {
	n.mu.Lock()
	c, ok := n.checks[merchantID]
	gen := n.checksGen
	n.mu.Unlock()
	if ok && time.Since(c.loaded) < checkTTL {
		return c.ns, nil
	}
	loaded := time.Now()
	ns, err := n.store.NotificationSetting(ctx, merchantID, TypeCheck)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ns = nil
	case err != nil:
		return nil, err
	}
	n.mu.Lock()
	if n.checksGen == gen { // else a change may have raced the read: read again next time
		n.checks[merchantID] = checkSetting{ns, loaded}
	}
	n.mu.Unlock()
	return ns, nil
}
