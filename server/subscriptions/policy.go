package subscriptions

import (
	"slices"
	"time"
)

// Class is how a decline code is treated when a scheduled charge fails.
type Class int

// The decline classes.
const (
	// ClassGeneric: CloudPayments' default; retried after the merchant's
	// delay (the next day), the plan rejected after MaxFailures in a row.
	ClassGeneric Class = iota + 1
	// ClassSoft: the issuer refuses for now (funds, limits, frequency,
	// its own trouble). The networks allow at most 4 attempts within 16
	// days for one debit, and two such declines block the card for 24
	// hours (SPEC.md §1.4, §3).
	ClassSoft
	// ClassFinal: the issuer will never approve (closed, lost, stolen,
	// expired or invalid card, not permitted, fraud): no retry, the plan is
	// rejected at once; a new first payment by the cardholder is needed.
	ClassFinal
)

// String names the class.
func (c Class) String() string {
	switch c {
	case ClassGeneric:
		return "generic"
	case ClassSoft:
		return "soft"
	case ClassFinal:
		return "final"
	}
	return "unknown"
}

// finalCodes are the declines after which no network allows a retry: the
// issue's list (5014, 5054, 5057 from IntellectMoney's network rules;
// 5001, 5003, 5005, 5012, 5017, 5033, 5034 from CloudPayments' "never
// retry") and the pick-up, lost, stolen and unknown-issuer codes, which
// Visa and Mastercard also list as "issuer will never approve".
var finalCodes = map[int]bool{
	5001: true, 5003: true, 5004: true, 5005: true, 5007: true, 5012: true, 5014: true, 5015: true,
	5017: true, 5033: true, 5034: true, 5041: true, 5043: true, 5054: true, 5057: true,
}

// softCodes are the declines the networks let a merchant retry within
// limits: IntellectMoney's 51, 61, 65 (5051, 5061, 5065) and the codes
// after two of which CloudPayments blocks the card for 24 hours (5013,
// 5030, 5051, 5055, 5063, 5065, 5096); 5014 and 5054 of that list are
// final.
var softCodes = map[int]bool{
	5013: true, 5030: true, 5051: true, 5055: true, 5061: true, 5063: true, 5065: true, 5096: true,
}

// Classify says how a decline code is treated.
func Classify(code int) Class {
	switch {
	case finalCodes[code]:
		return ClassFinal
	case softCodes[code]:
		return ClassSoft
	}
	return ClassGeneric
}

// The card networks' ceilings. No merchant setting can raise them.
const (
	SoftMaxAttempts = 4                   // attempts of one debit after soft declines
	SoftWindow      = 16 * 24 * time.Hour // from the debit's first attempt
	SoftBlockAfter  = 2                   // soft declines of a card that block it…
	SoftBlockFor    = 24 * time.Hour      // …for this long

	VisaMaxRetries            = 15 // retries per card and merchant in VisaWindow
	VisaWindow                = 30 * 24 * time.Hour
	MastercardMaxRetriesDay   = 10 // retries per card and merchant in MastercardDay
	MastercardDay             = 24 * time.Hour
	MastercardMaxRetriesMonth = 35 // retries per card and merchant in MastercardMonth
	MastercardMonth           = 30 * 24 * time.Hour

	// HistoryWindow is the longest time any rule looks back.
	HistoryWindow = 30 * 24 * time.Hour
)

// The bounds of a plan's own settings.
const (
	MinRetryDelay  = time.Hour
	MaxRetryDelay  = 30 * 24 * time.Hour
	MaxMaxFailures = 50
)

// Rule names what the retry policy decided after a decline, or what held
// a charge back; a subscription reports the last one.
type Rule string

// The rules.
const (
	RuleRetry               Rule = "retry"                   // retried after the plan's delay
	RuleSoftBlock           Rule = "soft_decline_block"      // two soft declines block the card 24 h
	RuleVisa                Rule = "visa_15_retries_30_days" // Visa: at most 15 retries in 30 days per card and merchant
	RuleMastercardDay       Rule = "mastercard_10_retries_24_hours"
	RuleMastercardMonth     Rule = "mastercard_35_retries_30_days"
	RuleFinalDecline        Rule = "final_decline"           // the issuer will never approve
	RuleConsecutiveFailures Rule = "consecutive_failures"    // the plan's limit of failures in a row
	RuleSoftAttempts        Rule = "soft_decline_4_attempts" // 4 attempts of one debit
	RuleSoftWindow          Rule = "soft_decline_16_days"    // 16 days from the debit's first attempt
	RuleNextPeriod          Rule = "next_period_due"         // the next period falls due first
	RuleCardRemoved         Rule = "card_removed"            // the token was deleted
)

// Describe explains a rule to a merchant.
func (r Rule) Describe() string {
	switch r {
	case RuleRetry:
		return "the charge failed and is retried after the plan's retry delay"
	case RuleSoftBlock:
		return "two soft declines block the card for 24 hours; the charge waits for the block to end"
	case RuleVisa:
		return "Visa allows at most 15 retries in 30 days per card and merchant"
	case RuleMastercardDay:
		return "Mastercard allows at most 10 retries in 24 hours per card and merchant"
	case RuleMastercardMonth:
		return "Mastercard allows at most 35 retries in 30 days per card and merchant"
	case RuleFinalDecline:
		return "the issuer will never approve this card: the plan is rejected without a retry"
	case RuleConsecutiveFailures:
		return "the plan failed its maximum number of times in a row and is rejected"
	case RuleSoftAttempts:
		return "the networks allow at most 4 attempts of one debit after soft declines; the period is given up"
	case RuleSoftWindow:
		return "the networks allow retries of one debit for 16 days after soft declines; the period is given up"
	case RuleNextPeriod:
		return "the next period falls due before the retry would; the failed period is given up"
	case RuleCardRemoved:
		return "the plan's saved card was deleted: the plan is rejected"
	}
	return ""
}

// Action is what follows a decline.
type Action int

// The actions.
const (
	ActionRetry      Action = iota + 1 // attempt the period again at Decision.At
	ActionSkipPeriod                   // give the period up; bill the next one when due
	ActionReject                       // reject the plan: no more charges
)

// String names the action.
func (a Action) String() string {
	switch a {
	case ActionRetry:
		return "retry"
	case ActionSkipPeriod:
		return "skip period"
	case ActionReject:
		return "reject"
	}
	return "unknown"
}

// Policy is a plan's retry settings: the merchant's to choose within
// bounds. The networks' ceilings apply whatever they are.
type Policy struct {
	// RetryDelay is the time from a failed attempt to its retry
	// (CloudPayments: the next day).
	RetryDelay time.Duration
	// MaxFailures rejects the plan after this many failed attempts in a
	// row (CloudPayments: 3). A success resets the count.
	MaxFailures int
}

// DefaultPolicy is CloudPayments' rule: a failed charge is retried the
// next day; three failures in a row reject the plan.
var DefaultPolicy = Policy{RetryDelay: 24 * time.Hour, MaxFailures: 3}

// withDefaults fills in zero settings.
func (p Policy) withDefaults() Policy {
	if p.RetryDelay <= 0 {
		p.RetryDelay = DefaultPolicy.RetryDelay
	}
	if p.MaxFailures <= 0 {
		p.MaxFailures = DefaultPolicy.MaxFailures
	}
	return p
}

// Attempt is one entry of a card's history at a merchant: a retry (in
// flight, approved or declined) or a declined attempt.
type Attempt struct {
	At       time.Time
	Retry    bool
	Declined bool
	Approved bool
	Code     int // the decline code
}

// Decline is a failed scheduled charge as the policy sees it.
type Decline struct {
	Code  int
	At    time.Time // when it was declined (the subscription's time)
	Brand string    // the card's network: Visa, Mastercard, MIR…
	// Attempt is the period's attempt that failed: 1 for the first.
	Attempt int
	// PeriodStartedAt is when the period's first attempt was made.
	PeriodStartedAt time.Time
	// Failures counts the plan's consecutive failures, this one included.
	Failures int
	// NextPeriodAt is when the next period falls due; zero if there is none.
	NextPeriodAt time.Time
	// History is the card's attempts at this merchant in the last 30 days,
	// this one included.
	History []Attempt
}

// Decision is what the policy decided after a decline.
type Decision struct {
	Action Action
	At     time.Time // ActionRetry: when
	// Rule is the rule that decided: what stopped the retry (skip, reject)
	// or, for a retry, RuleRetry or the rule that delayed it.
	Rule Rule
}

// Decide applies the policy to a decline. It is a pure function of its
// input: the runner calls it inside the transaction that records the
// decline.
func (p Policy) Decide(d Decline) Decision {
	p = p.withDefaults()
	class := Classify(d.Code)
	if class == ClassFinal {
		return Decision{Action: ActionReject, Rule: RuleFinalDecline}
	}
	if d.Failures >= p.MaxFailures {
		return Decision{Action: ActionReject, Rule: RuleConsecutiveFailures}
	}
	if class == ClassSoft && d.Attempt >= SoftMaxAttempts {
		return Decision{Action: ActionSkipPeriod, Rule: RuleSoftAttempts}
	}
	at, rule := d.At.Add(p.RetryDelay), RuleRetry
	// The networks' rules may push the retry later; each push can only
	// move it forward, so a few rounds settle it.
	for range 16 {
		until, r, ok := Admit(at, d.Brand, true, d.History)
		if ok {
			break
		}
		at, rule = until, r
	}
	stop := func(limit Rule) Decision {
		if rule != RuleRetry {
			return Decision{Action: ActionSkipPeriod, Rule: rule} // a network rule delayed it past the limit
		}
		return Decision{Action: ActionSkipPeriod, Rule: limit}
	}
	if class == ClassSoft && !d.PeriodStartedAt.IsZero() && at.After(d.PeriodStartedAt.Add(SoftWindow)) {
		return stop(RuleSoftWindow)
	}
	if !d.NextPeriodAt.IsZero() && !at.Before(d.NextPeriodAt) {
		return stop(RuleNextPeriod)
	}
	return Decision{Action: ActionRetry, At: at, Rule: rule}
}

// Admit says whether a card may be charged at `at` (retry: the attempt is
// a retry of a failed debit) under the networks' rules, given its history
// at this merchant; if not, until is the earliest time the rule that
// refuses allows it. Soft declines block the card for every charge;
// the retry ceilings count retries only.
func Admit(at time.Time, brand string, retry bool, history []Attempt) (until time.Time, rule Rule, ok bool) {
	h := slices.SortedFunc(slices.Values(history), func(a, b Attempt) int { return a.At.Compare(b.At) })
	if end := blockedUntil(h); at.Before(end) {
		return end, RuleSoftBlock, false
	}
	if !retry {
		return time.Time{}, "", true
	}
	type ceiling struct {
		max    int
		window time.Duration
		rule   Rule
	}
	var ceilings []ceiling
	visa := ceiling{VisaMaxRetries, VisaWindow, RuleVisa}
	mcDay := ceiling{MastercardMaxRetriesDay, MastercardDay, RuleMastercardDay}
	mcMonth := ceiling{MastercardMaxRetriesMonth, MastercardMonth, RuleMastercardMonth}
	switch brand {
	case "Visa":
		ceilings = []ceiling{visa}
	case "Mastercard", "Maestro":
		ceilings = []ceiling{mcDay, mcMonth}
	default:
		// Networks whose rules altyn does not know get the strictest of both.
		ceilings = []ceiling{mcDay, visa, mcMonth}
	}
	var retries []time.Time
	for _, a := range h {
		if a.Retry && !a.At.After(at) {
			retries = append(retries, a.At)
		}
	}
	for _, c := range ceilings {
		// Retries in (at-window, at]; one more must not exceed max.
		in := retries[:0:0]
		for _, r := range retries {
			if r.After(at.Add(-c.window)) {
				in = append(in, r)
			}
		}
		if len(in) >= c.max {
			// Allowed once enough of them have left the window: the
			// (len-max+1)-th oldest must be at or before at-window.
			return in[len(in)-c.max].Add(c.window), c.rule, false
		}
	}
	return time.Time{}, "", true
}

// blockedUntil is when a card's soft-decline block ends (zero if it never
// was blocked): every second soft decline without an approval between
// blocks it for SoftBlockFor from then.
func blockedUntil(history []Attempt) time.Time {
	var end time.Time
	n := 0
	for _, a := range history {
		switch {
		case a.Approved:
			n = 0
		case a.Declined && Classify(a.Code) == ClassSoft:
			n++
			if n >= SoftBlockAfter {
				end, n = a.At.Add(SoftBlockFor), 0
			}
		}
	}
	return end
}
