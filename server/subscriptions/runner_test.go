package subscriptions_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/subscriptions"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// plans creates n subscriptions of the Env's merchant, on cards of a few
// accounts, with daily, weekly and monthly schedules starting at start.
func plans(t *testing.T, env *apptest.Env, n int, start time.Time) []*altynv1.Subscription {
	t.Helper()
	ctx := t.Context()
	tokens := map[string]string{}
	var out []*altynv1.Subscription
	intervals := []altynv1.Interval{altynv1.Interval_INTERVAL_DAY, altynv1.Interval_INTERVAL_WEEK, altynv1.Interval_INTERVAL_MONTH}
	for i := range n {
		account := fmt.Sprintf("acc-%d", i%7)
		if tokens[account] == "" {
			res, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{Amount: &altynv1.Money{Amount: 100, Currency: "RUB"},
				Cryptogram: env.Seal(t, "4000000000003055"), AccountId: account}))
			if err != nil || res.Msg.Payment.Token == "" {
				t.Fatalf("save card: %v", err)
			}
			tokens[account] = res.Msg.Payment.Token
		}
		res, err := env.Subscriptions.CreateSubscription(ctx, connect.NewRequest(&altynv1.CreateSubscriptionRequest{
			Token: tokens[account], AccountId: account, Description: "plan " + strconv.Itoa(i),
			Amount: &altynv1.Money{Amount: int64(1000 + i), Currency: "RUB"}, StartDate: timestamppb.New(start.Add(time.Duration(i) * time.Second)),
			Interval: intervals[i%3], Period: 1,
		}))
		if err != nil {
			t.Fatalf("CreateSubscription: %v", err)
		}
		out = append(out, res.Msg.Subscription)
	}
	return out
}

// billedOnce checks that every subscription's periods due by `until` were
// billed exactly once: one Paid charge per period, none skipped, one
// approved payment per period in the database, and each payment exactly
// once in the ledger of one of the sandboxes.
func billedOnce(t *testing.T, env *apptest.Env, subs []*altynv1.Subscription, until time.Time, sandboxes ...*acquirer.Sandbox) {
	t.Helper()
	ctx := t.Context()
	total := 0
	for _, s := range subs {
		sched := subscriptions.Schedule{Start: s.StartDate.AsTime(), Interval: map[altynv1.Interval]subscriptions.Interval{
			altynv1.Interval_INTERVAL_DAY: subscriptions.Day, altynv1.Interval_INTERVAL_WEEK: subscriptions.Week,
			altynv1.Interval_INTERVAL_MONTH: subscriptions.Month}[s.Interval], Period: int(s.Period)}
		due := sched.FirstFrom(until.Add(time.Nanosecond)) // periods due at or before until
		charges, err := env.App.Store.Charges(ctx, s.Id)
		if err != nil {
			t.Fatal(err)
		}
		if len(charges) != due {
			t.Errorf("%s: %d periods billed, want %d", s.Id, len(charges), due)
		}
		for i, c := range charges {
			if c.PeriodNo != i || c.Status != store.ChargePaid || c.Attempt != 1 || c.PaymentID == "" {
				t.Errorf("%s: charge %d: period %d %s attempt %d payment %q", s.Id, i, c.PeriodNo, c.Status, c.Attempt, c.PaymentID)
			}
		}
		sub, err := env.App.Store.Subscription(ctx, env.Merchant.ID, s.Id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Successful != due || sub.PeriodNo != due || sub.PendingKey != "" {
			t.Errorf("%s: successful %d, period %d, pending %q; want %d", s.Id, sub.Successful, sub.PeriodNo, sub.PendingKey, due)
		}
		total += due
	}
	// Every payment of a subscription, approved or not, by its idempotency
	// key (subscription, period, attempt).
	rows, err := env.App.Store.Pool().Query(ctx, `SELECT p.id, p.status, p.amount, p.subscription_id, k.idem_key
		FROM payments p JOIN idempotency_keys k ON k.payment_id = p.id WHERE p.subscription_id <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	perPeriod := map[string]int{}
	n := 0
	for rows.Next() {
		var id, status, subID, key string
		var amount int64
		if err := rows.Scan(&id, &status, &amount, &subID, &key); err != nil {
			t.Fatal(err)
		}
		n++
		if status != string(store.StatusCompleted) {
			t.Errorf("payment %s of %s is %s", id, subID, status)
		}
		parts := strings.Split(key, ":")
		perPeriod[subID+":"+parts[2]]++
		held := 0
		for _, sb := range sandboxes {
			if l, ok := sb.Ledger(id); ok {
				held++
				if l.Captured != amount {
					t.Errorf("payment %s: sandbox captured %d of %d", id, l.Captured, amount)
				}
			}
		}
		if held != 1 {
			t.Errorf("payment %s is in %d sandbox ledgers, want 1", id, held)
		}
	}
	if n != total {
		t.Errorf("%d payments of subscriptions, want %d (one per billed period)", n, total)
	}
	for k, c := range perPeriod {
		if c != 1 {
			t.Errorf("period %s has %d payments", k, c)
		}
	}
}

// TestThreeRunnersRace runs three altyn replicas on one database and lets
// their runners race over the same due subscriptions, period after period:
// no period is billed twice, none is skipped.
func TestThreeRunnersRace(t *testing.T) {
	t.Parallel()
	cfg := apptest.WithRunnerConfig(subscriptions.RunnerConfig{Batch: 8, Workers: 4})
	a := apptest.New(t, cfg)
	b := apptest.New(t, cfg, apptest.WithDatabase(a.DatabaseURL, a.Master), apptest.WithClock(a.Clock))
	c := apptest.New(t, cfg, apptest.WithDatabase(a.DatabaseURL, a.Master), apptest.WithClock(a.Clock))
	start := a.Clock.Now().Add(time.Minute).Truncate(time.Second)
	subs := plans(t, a, 60, start)

	runners := []*subscriptions.Runner{a.App.Runner, b.App.Runner, c.App.Runner}
	var paid [3]int
	// Nine steps of 5 days: about 45 daily, 7 weekly and 2 monthly periods each.
	for range 9 {
		a.Clock.Advance(5 * 24 * time.Hour)
		now := a.Clock.Now()
		var wg sync.WaitGroup
		for i, r := range runners {
			wg.Go(func() {
				st, err := r.RunOnce(t.Context(), now)
				if err != nil {
					t.Errorf("runner %d: %v", i, err)
				}
				paid[i] += st.Paid
			})
		}
		wg.Wait()
	}
	t.Logf("periods billed by each runner: %v", paid)
	for i, n := range paid {
		if n == 0 {
			t.Errorf("runner %d billed nothing: the race did not happen", i)
		}
	}
	billedOnce(t, a, subs, a.Clock.Now(), a.App.Sandbox, b.App.Sandbox, c.App.Sandbox)
}

// TestRunnerKilledMidBatch stops a runner in the middle of a batch (its
// context is cancelled while the acquirer holds its calls, as a killed
// process would stop), then starts another: nothing is billed twice, and
// nothing is lost.
func TestRunnerKilledMidBatch(t *testing.T) {
	t.Parallel()
	cfg := subscriptions.RunnerConfig{Batch: 64, Chunk: 4, Workers: 1, Lease: 2 * time.Minute}
	env := apptest.New(t, apptest.WithRunnerConfig(cfg))
	ctx := t.Context()
	start := env.Clock.Now().Add(time.Minute).Truncate(time.Second)
	subs := plans(t, env, 40, start)
	env.Clock.Advance(2 * time.Minute)
	now := env.Clock.Now()

	// The bank acts on each call but its answer is held back, and lost
	// when the runner dies.
	env.App.Sandbox.Inject(acquirer.Fault{Op: acquirer.OpAuthorize, Kind: acquirer.FaultTimeoutAfter, Delay: 10 * time.Second})
	before := env.App.Sandbox.Calls(acquirer.OpAuthorize)
	killed := env.App.Subscriptions.NewRunner(cfg)
	kctx, kill := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := killed.RunOnce(kctx, now)
		done <- err
	}()
	for env.App.Sandbox.Calls(acquirer.OpAuthorize) < before+cfg.Chunk {
		time.Sleep(time.Millisecond)
	}
	kill()
	if err := <-done; err == nil {
		t.Fatal("the killed runner finished its batch")
	}
	env.App.Sandbox.ClearFaults()
	atBank := env.App.Sandbox.Calls(acquirer.OpAuthorize) - before
	var pending int
	env.App.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE pending_key <> ''`).Scan(&pending)
	t.Logf("killed with %d charges at the bank unanswered and %d claimed", atBank, pending)
	if pending != len(subs) {
		t.Fatalf("%d of %d subscriptions claimed by the killed runner's batch", pending, len(subs))
	}

	restarted := env.App.Subscriptions.NewRunner(cfg)
	// While the dead runner's leases last, the new one leaves its work alone.
	if st, err := restarted.RunOnce(ctx, now); err != nil || st != (subscriptions.Stats{}) {
		t.Fatalf("during the dead runner's leases: %+v, %v", st, err)
	}
	// After them, it drives the same attempts: those never paid are paid,
	// those whose answer was lost wait for the engine's resolver.
	st, err := restarted.RunOnce(ctx, now.Add(cfg.Lease+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Paid != len(subs)-atBank || st.Unsettled != atBank {
		t.Errorf("after the leases: %+v, want %d paid and %d unsettled", st, len(subs)-atBank, atBank)
	}
	env.Clock.Advance(time.Minute) // past the engine's ResolveAfter
	if _, err := env.App.Engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = restarted.RunOnce(ctx, now.Add(2*cfg.Lease+2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Paid != atBank {
		t.Errorf("after the resolver: %+v, want %d paid", st, atBank)
	}
	if calls := env.App.Sandbox.Calls(acquirer.OpAuthorize) - before; calls != len(subs) {
		t.Errorf("the sandbox saw %d authorizations for %d periods", calls, len(subs))
	}
	billedOnce(t, env, subs, now, env.App.Sandbox)
}
