package subscriptions

import (
	"fmt"
	"testing"
	"time"
)

// TestClassify names the class of every decline code of SPEC.md §1.4.
func TestClassify(t *testing.T) {
	t.Parallel()
	want := map[int]Class{
		5001: ClassFinal, 5003: ClassFinal, 5004: ClassFinal, 5005: ClassFinal, 5006: ClassGeneric, 5007: ClassFinal,
		5012: ClassFinal, 5013: ClassSoft, 5014: ClassFinal, 5015: ClassFinal, 5017: ClassFinal, 5019: ClassGeneric,
		5030: ClassSoft, 5031: ClassGeneric, 5033: ClassFinal, 5034: ClassFinal, 5036: ClassGeneric, 5041: ClassFinal,
		5043: ClassFinal, 5051: ClassSoft, 5054: ClassFinal, 5055: ClassSoft, 5057: ClassFinal, 5058: ClassGeneric,
		5059: ClassGeneric, 5061: ClassSoft, 5062: ClassGeneric, 5063: ClassSoft, 5065: ClassSoft, 5082: ClassGeneric,
		5091: ClassGeneric, 5092: ClassGeneric, 5096: ClassSoft, 5204: ClassGeneric, 5206: ClassGeneric,
		5207: ClassGeneric, 5300: ClassGeneric,
	}
	for code, class := range want {
		if got := Classify(code); got != class {
			t.Errorf("Classify(%d) = %v, want %v", code, got, class)
		}
	}
}

var t0 = time.Date(2031, time.March, 10, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// retries makes n retries of a card, one every step, ending at end.
func retries(n int, end time.Time, step time.Duration) []Attempt {
	out := make([]Attempt, n)
	for i := range out {
		out[i] = Attempt{At: end.Add(-time.Duration(n-1-i) * step), Retry: true, Declined: true, Code: 5091}
	}
	return out
}

// TestDecideEveryClass: CloudPayments' default policy for every decline
// code, first failure and third.
func TestDecideEveryClass(t *testing.T) {
	t.Parallel()
	for code := 5001; code <= 5300; code++ {
		class := Classify(code)
		for _, failures := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%d-%d", code, failures), func(t *testing.T) {
				history := []Attempt{{At: t0, Retry: failures > 1, Declined: true, Code: code}}
				d := DefaultPolicy.Decide(Decline{Code: code, At: t0, Brand: "Visa", Attempt: failures, PeriodStartedAt: t0.Add(-time.Duration(failures-1) * day),
					Failures: failures, NextPeriodAt: t0.AddDate(0, 1, 0), History: history})
				var want Decision
				switch {
				case class == ClassFinal:
					want = Decision{Action: ActionReject, Rule: RuleFinalDecline}
				case failures >= 3:
					want = Decision{Action: ActionReject, Rule: RuleConsecutiveFailures}
				default:
					want = Decision{Action: ActionRetry, At: t0.Add(day), Rule: RuleRetry}
				}
				if d != want {
					t.Errorf("Decide(code %d, failure %d) = %+v, want %+v", code, failures, d, want)
				}
			})
		}
	}
}

// TestDecideCeilings: whatever a merchant configures, the networks'
// ceilings hold, and the decision names the rule that stopped or delayed
// the retry.
func TestDecideCeilings(t *testing.T) {
	t.Parallel()
	hourly := Policy{RetryDelay: time.Hour, MaxFailures: 50}
	soft := func(at time.Time) Attempt { return Attempt{At: at, Declined: true, Code: 5051} }
	cases := []struct {
		name   string
		policy Policy
		d      Decline
		want   Decision
	}{
		{"final decline rejects at once, whatever the settings", hourly,
			Decline{Code: 5057, At: t0, Brand: "Visa", Attempt: 1, Failures: 1},
			Decision{Action: ActionReject, Rule: RuleFinalDecline}},
		{"three failures in a row reject (CloudPayments)", DefaultPolicy,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 1, Failures: 3},
			Decision{Action: ActionReject, Rule: RuleConsecutiveFailures}},
		{"a merchant allowing more failures", Policy{MaxFailures: 5},
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 3, Failures: 3, PeriodStartedAt: t0.Add(-2 * day)},
			Decision{Action: ActionRetry, At: t0.Add(day), Rule: RuleRetry}},
		{"soft decline: the fourth attempt is the last", hourly,
			Decline{Code: 5051, At: t0, Brand: "Visa", Attempt: 4, Failures: 4, PeriodStartedAt: t0.Add(-3 * time.Hour)},
			Decision{Action: ActionSkipPeriod, Rule: RuleSoftAttempts}},
		{"soft decline: no retry after 16 days", Policy{RetryDelay: 10 * day, MaxFailures: 10},
			Decline{Code: 5061, At: t0, Brand: "Visa", Attempt: 2, Failures: 2, PeriodStartedAt: t0.Add(-10 * day), NextPeriodAt: t0.AddDate(0, 2, 0)},
			Decision{Action: ActionSkipPeriod, Rule: RuleSoftWindow}},
		{"generic decline: no 16-day limit", Policy{RetryDelay: 10 * day, MaxFailures: 10},
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 2, Failures: 2, PeriodStartedAt: t0.Add(-10 * day), NextPeriodAt: t0.AddDate(0, 2, 0)},
			Decision{Action: ActionRetry, At: t0.Add(10 * day), Rule: RuleRetry}},
		{"two soft declines block the card 24 hours", hourly,
			Decline{Code: 5065, At: t0, Brand: "Visa", Attempt: 2, Failures: 2, PeriodStartedAt: t0.Add(-time.Hour),
				History: []Attempt{soft(t0.Add(-time.Hour)), {At: t0, Retry: true, Declined: true, Code: 5065}}},
			Decision{Action: ActionRetry, At: t0.Add(day), Rule: RuleSoftBlock}},
		{"an approval between soft declines lifts the count", hourly,
			Decline{Code: 5051, At: t0, Brand: "Visa", Attempt: 1, Failures: 1, PeriodStartedAt: t0,
				History: []Attempt{soft(t0.Add(-2 * time.Hour)), {At: t0.Add(-time.Hour), Approved: true}, soft(t0)}},
			Decision{Action: ActionRetry, At: t0.Add(time.Hour), Rule: RuleRetry}},
		{"the next period falls due first", DefaultPolicy,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 1, Failures: 1, PeriodStartedAt: t0, NextPeriodAt: t0.Add(day)},
			Decision{Action: ActionSkipPeriod, Rule: RuleNextPeriod}},
		{"Visa: 15 retries in 30 days stop the 16th", hourly,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 16, Failures: 16, PeriodStartedAt: t0.Add(-20 * day), NextPeriodAt: t0.Add(5 * day),
				History: retries(15, t0, day)},
			Decision{Action: ActionSkipPeriod, Rule: RuleVisa}},
		{"Visa: the 15th retry is allowed", hourly,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 15, Failures: 15, NextPeriodAt: t0.Add(5 * day), History: retries(14, t0, day)},
			Decision{Action: ActionRetry, At: t0.Add(time.Hour), Rule: RuleRetry}},
		{"Visa: retries older than 30 days do not count", hourly,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 2, Failures: 2, NextPeriodAt: t0.Add(5 * day), History: retries(20, t0.Add(-31*day), time.Hour)},
			Decision{Action: ActionRetry, At: t0.Add(time.Hour), Rule: RuleRetry}},
		{"Mastercard: 10 retries in 24 hours delay the 11th", hourly,
			Decline{Code: 5091, At: t0, Brand: "Mastercard", Attempt: 11, Failures: 11, NextPeriodAt: t0.Add(5 * day),
				History: retries(10, t0, time.Hour)},
			// The oldest of the ten (t0 - 9 h) leaves the 24 hours at t0 + 15 h.
			Decision{Action: ActionRetry, At: t0.Add(15 * time.Hour), Rule: RuleMastercardDay}},
		{"Mastercard: 10 in 24 hours, and the next period first", hourly,
			Decline{Code: 5091, At: t0, Brand: "Mastercard", Attempt: 11, Failures: 11, NextPeriodAt: t0.Add(10 * time.Hour),
				History: retries(10, t0, time.Hour)},
			Decision{Action: ActionSkipPeriod, Rule: RuleMastercardDay}},
		{"Mastercard: 35 retries in 30 days delay the 36th", Policy{RetryDelay: 12 * time.Hour, MaxFailures: 50},
			Decline{Code: 5091, At: t0, Brand: "Mastercard", Attempt: 36, Failures: 36, NextPeriodAt: t0.Add(5 * day),
				History: retries(35, t0, 18*time.Hour)},
			// The oldest (t0 - 34 × 18 h) leaves the 30 days at t0 + 4.5 days.
			Decision{Action: ActionRetry, At: t0.Add(108 * time.Hour), Rule: RuleMastercardMonth}},
		{"Mastercard: 35 retries in 30 days, and the next period first", Policy{RetryDelay: 12 * time.Hour, MaxFailures: 50},
			Decline{Code: 5091, At: t0, Brand: "Mastercard", Attempt: 36, Failures: 36, NextPeriodAt: t0.Add(4 * day),
				History: retries(35, t0, 18*time.Hour)},
			Decision{Action: ActionSkipPeriod, Rule: RuleMastercardMonth}},
		{"Maestro counts as Mastercard", hourly,
			Decline{Code: 5091, At: t0, Brand: "Maestro", Attempt: 11, Failures: 11, NextPeriodAt: t0.Add(5 * day), History: retries(10, t0, time.Hour)},
			Decision{Action: ActionRetry, At: t0.Add(15 * time.Hour), Rule: RuleMastercardDay}},
		{"MIR: unknown rules get the strictest", hourly,
			Decline{Code: 5091, At: t0, Brand: "MIR", Attempt: 11, Failures: 11, NextPeriodAt: t0.Add(5 * day), History: retries(10, t0, time.Hour)},
			Decision{Action: ActionRetry, At: t0.Add(15 * time.Hour), Rule: RuleMastercardDay}},
		{"Visa has no 24-hour rule", hourly,
			Decline{Code: 5091, At: t0, Brand: "Visa", Attempt: 11, Failures: 11, NextPeriodAt: t0.Add(5 * day), History: retries(10, t0, time.Hour)},
			Decision{Action: ActionRetry, At: t0.Add(time.Hour), Rule: RuleRetry}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.policy.Decide(c.d); got != c.want {
				t.Errorf("Decide = %+v (%v), want %+v (%v)", got, got.Action, c.want, c.want.Action)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	blocked := []Attempt{{At: t0, Declined: true, Code: 5051}, {At: t0.Add(time.Hour), Retry: true, Declined: true, Code: 5096}}
	cases := []struct {
		name    string
		at      time.Time
		brand   string
		retry   bool
		history []Attempt
		until   time.Time
		rule    Rule
		ok      bool
	}{
		{"a clean card", t0, "Visa", true, nil, time.Time{}, "", true},
		{"a first charge on a blocked card waits", t0.Add(2 * time.Hour), "Visa", false, blocked, t0.Add(25 * time.Hour), RuleSoftBlock, false},
		{"the block ends after 24 hours", t0.Add(25 * time.Hour), "Visa", false, blocked, time.Time{}, "", true},
		{"generic declines do not block", t0.Add(2 * time.Hour), "Visa", false,
			[]Attempt{{At: t0, Declined: true, Code: 5091}, {At: t0.Add(time.Hour), Declined: true, Code: 5091}}, time.Time{}, "", true},
		{"first charges are not retries", t0, "Mastercard", false, retries(10, t0, time.Minute), time.Time{}, "", true},
		{"the 11th retry in a day", t0, "Mastercard", true, retries(10, t0, time.Minute), t0.Add(-9*time.Minute + day), RuleMastercardDay, false},
	}
	for _, c := range cases {
		until, rule, ok := Admit(c.at, c.brand, c.retry, c.history)
		if !until.Equal(c.until) || rule != c.rule || ok != c.ok {
			t.Errorf("%s: Admit = %v %q %v, want %v %q %v", c.name, until, rule, ok, c.until, c.rule, c.ok)
		}
	}
}

func TestRulesDescribed(t *testing.T) {
	t.Parallel()
	for _, r := range []Rule{RuleRetry, RuleSoftBlock, RuleVisa, RuleMastercardDay, RuleMastercardMonth, RuleFinalDecline,
		RuleConsecutiveFailures, RuleSoftAttempts, RuleSoftWindow, RuleNextPeriod, RuleCardRemoved} {
		if r.Describe() == "" {
			t.Errorf("rule %q has no description", r)
		}
	}
}
