package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/altynpay/altyn/store"
)

// httpPlan plans one HTTP delivery per message whose type is enabled.
func httpPlan(now time.Time) store.DeliveryPlan {
	return func(m store.OutboxMessage, ns *store.NotificationSettings) []store.Delivery {
		if ns == nil || !ns.Enabled {
			return nil
		}
		return []store.Delivery{{OutboxID: m.ID, Channel: store.ChannelHTTP, MerchantID: m.MerchantID, Type: m.Type,
			PaymentID: m.PaymentID, Target: ns.URL, Method: ns.Method, Format: ns.Format, MaxAttempts: 3,
			NextAttemptAt: now, CreatedAt: m.CreatedAt, UpdatedAt: now}}
	}
}

func outboxRows(t *testing.T, st *store.Store, mid string, n int, typ string, at time.Time) []string {
	t.Helper()
	var ids []string
	var msgs []store.OutboxMessage
	for i := range n {
		id := fmt.Sprintf("evt_%s_%s_%04d", typ, at.Format("150405"), i)
		ids = append(ids, id)
		msgs = append(msgs, store.OutboxMessage{ID: id, MerchantID: mid, Type: typ, PaymentID: "pay_" + id,
			Payload: []byte(`{"id":"` + id + `"}`), CreatedAt: at})
	}
	if err := st.InsertOutbox(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestNotificationSettingsSave(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "ntf")
	ctx := t.Context()
	if _, err := st.NotificationSetting(ctx, mid, "Pay"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("NotificationSetting before any save: got %v, want ErrNotFound", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ns := store.NotificationSettings{MerchantID: mid, Type: "Pay", Enabled: true, URL: "http://a.example/pay",
		Method: "POST", Format: "altyn", Email: "shop@example.com", UpdatedAt: now}
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ns.URL, ns.Format = "http://b.example/pay", "cloudpayments"
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	got, err := st.NotificationSetting(ctx, mid, "Pay")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&ns, got); diff != "" {
		t.Errorf("settings read back differ (-saved +read):\n%s", diff)
	}
	list, err := st.NotificationSettings(ctx, mid)
	if err != nil || len(list) != 1 {
		t.Errorf("NotificationSettings: got %d rows (%v), want 1", len(list), err)
	}
}

// TestFanOutOnce: each outbox row is fanned out exactly once, however many
// workers race, and rows of types without settings are marked too.
func TestFanOutOnce(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "ntf")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.SaveNotificationSettings(ctx, store.NotificationSettings{MerchantID: mid, Type: "Pay", Enabled: true,
		URL: "http://a.example/", Method: "POST", Format: "altyn", UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	pays := outboxRows(t, st, mid, 120, "Pay", now)
	outboxRows(t, st, mid, 30, "Fail", now) // no settings: no deliveries

	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range 4 {
		wg.Go(func() {
			for {
				k, err := st.FanOutNotifications(ctx, time.Time{}, 16, httpPlan(now))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				taken += k
				mu.Unlock()
				if k == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if taken != 150 {
		t.Errorf("workers took %d outbox rows, want 150", taken)
	}
	list, _, err := st.ListDeliveries(ctx, mid, store.DeliveryFilter{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(pays) {
		t.Errorf("got %d deliveries, want %d (one per Pay row)", len(list), len(pays))
	}
	mark, err := st.NotificationFanOutMark(ctx)
	if err != nil || !mark.Equal(now) {
		t.Errorf("fan-out mark: got %v (%v), want %v", mark, err, now)
	}
	// Rows before from are not looked at; a later full scan finds them.
	late := outboxRows(t, st, mid, 1, "Pay", now.Add(-2*time.Hour))
	if k, err := st.FanOutNotifications(ctx, now.Add(-time.Hour), 16, httpPlan(now)); k != 0 || err != nil {
		t.Errorf("fan-out from an hour ago: took %d (%v), want 0", k, err)
	}
	if k, err := st.FanOutNotifications(ctx, time.Time{}, 16, httpPlan(now)); k != 1 || err != nil {
		t.Errorf("full fan-out: took %d (%v), want 1 (%s)", k, err, late[0])
	}
}

// TestLeaseSkipLocked: racing workers lease disjoint deliveries; a lease
// hides a delivery until it runs out; a lost lease records nothing.
func TestLeaseSkipLocked(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "ntf")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.SaveNotificationSettings(ctx, store.NotificationSettings{MerchantID: mid, Type: "Pay", Enabled: true,
		URL: "http://a.example/", Method: "POST", Format: "altyn", UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	outboxRows(t, st, mid, 100, "Pay", now)
	if _, err := st.FanOutNotifications(ctx, time.Time{}, 1000, httpPlan(now)); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for w := range 5 {
		wg.Go(func() {
			for {
				list, err := st.LeaseDeliveries(ctx, now, now.Add(time.Minute), fmt.Sprintf("lease-%d", w), 7, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(list) == 0 {
					return
				}
				mu.Lock()
				for _, d := range list {
					seen[d.OutboxID]++
					var p struct{ ID string }
					if err := json.Unmarshal(d.Message.Payload, &p); err != nil || p.ID != d.OutboxID {
						t.Errorf("leased %s with payload %s", d.OutboxID, d.Message.Payload)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 100 {
		t.Errorf("leased %d distinct deliveries, want 100", len(seen))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s leased %d times, want once", id, k)
		}
	}

	// The leases run out a minute later: the deliveries come due again.
	later := now.Add(time.Minute)
	list, err := st.LeaseDeliveries(ctx, later, later.Add(time.Minute), "lease-late", 1, []string{})
	if err != nil || len(list) != 1 {
		t.Fatalf("lease after expiry: got %d (%v), want 1", len(list), err)
	}
	d := list[0]
	// Its first holder has lost it: its attempt is not recorded.
	a := store.DeliveryAttempt{Attempt: 1, Target: d.Target, StartedAt: now, Latency: time.Millisecond, HTTPStatus: 200}
	out := store.DeliveryOutcome{Status: store.DeliveryDelivered, DeliveredAt: now}
	if err := st.RecordDeliveryAttempt(ctx, d.Delivery, "lease-0", a, out); !errors.Is(err, store.ErrStale) {
		t.Errorf("record with a lost lease: got %v, want ErrStale", err)
	}
	if err := st.RecordDeliveryAttempt(ctx, d.Delivery, "lease-late", a, out); err != nil {
		t.Fatal(err)
	}
	attempts, err := st.DeliveryAttempts(ctx, d.OutboxID, d.Channel)
	if err != nil || len(attempts) != 1 || attempts[0].HTTPStatus != 200 {
		t.Errorf("attempts: got %+v (%v), want one with HTTP 200", attempts, err)
	}
	// Targets in skipTargets are not leased.
	if list, err := st.LeaseDeliveries(ctx, later, later.Add(time.Minute), "lease-skip", 10, []string{"http://a.example/"}); err != nil || len(list) != 0 {
		t.Errorf("lease skipping the only target: got %d (%v), want 0", len(list), err)
	}
}

// TestSettingsRetargetPending: new settings apply to pending deliveries;
// a channel turned off cancels them; a resend revives them.
func TestSettingsRetargetPending(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "ntf")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ns := store.NotificationSettings{MerchantID: mid, Type: "Pay", Enabled: true, URL: "http://old.example/",
		Method: "POST", Format: "altyn", UpdatedAt: now}
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ids := outboxRows(t, st, mid, 2, "Pay", now)
	if _, err := st.FanOutNotifications(ctx, time.Time{}, 10, httpPlan(now)); err != nil {
		t.Fatal(err)
	}
	ns.URL, ns.Format = "http://new.example/", "ecommpay"
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Deliveries(ctx, mid, ids[0])
	if err != nil || len(ds) != 1 || ds[0].Target != "http://new.example/" || ds[0].Format != "ecommpay" {
		t.Fatalf("after a new URL: got %+v (%v), want the new URL and format", ds, err)
	}
	ns.Enabled = false
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ds, _ = st.Deliveries(ctx, mid, ids[0])
	if ds[0].Status != store.DeliveryCancelled {
		t.Fatalf("after disabling: status %s, want Cancelled", ds[0].Status)
	}
	if _, err := st.ResendNotification(ctx, mid, ids[0], "", httpPlan(now)); !errors.Is(err, store.ErrNothingToSend) {
		t.Errorf("resend while disabled: got %v, want ErrNothingToSend", err)
	}
	ns.Enabled = true
	if err := st.SaveNotificationSettings(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ds, err = st.ResendNotification(ctx, mid, ids[0], "", httpPlan(now.Add(time.Second)))
	if err != nil || len(ds) != 1 || ds[0].Status != store.DeliveryPending || !ds[0].NextAttemptAt.Equal(now.Add(time.Second)) || ds[0].MaxAttempts != 3 {
		t.Errorf("resend: got %+v (%v), want pending, due at once, 3 attempts", ds, err)
	}
	if _, err := st.ResendNotification(ctx, "mer_other", ids[0], "", httpPlan(now)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("resend of another merchant's notification: got %v, want ErrNotFound", err)
	}
}

func TestListDeliveriesPages(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "ntf")
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, typ := range []string{"Pay", "Fail"} {
		if err := st.SaveNotificationSettings(ctx, store.NotificationSettings{MerchantID: mid, Type: typ, Enabled: true,
			URL: "http://a.example/", Method: "POST", Format: "altyn", UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	outboxRows(t, st, mid, 7, "Pay", now)
	outboxRows(t, st, mid, 3, "Fail", now.Add(time.Second))
	if _, err := st.FanOutNotifications(ctx, time.Time{}, 100, httpPlan(now)); err != nil {
		t.Fatal(err)
	}
	var got []string
	token := ""
	for {
		page, next, err := st.ListDeliveries(ctx, mid, store.DeliveryFilter{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			got = append(got, d.OutboxID)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(got) != 10 || !strings.HasPrefix(got[0], "evt_Fail_") || !strings.HasSuffix(got[0], "_0002") || !strings.HasSuffix(got[9], "_0000") {
		t.Errorf("pages: got %v, want 10 deliveries newest first", got)
	}
	fails, _, err := st.ListDeliveries(ctx, mid, store.DeliveryFilter{Type: "Fail", PageSize: 100})
	if err != nil || len(fails) != 3 {
		t.Errorf("Fail only: got %d (%v), want 3", len(fails), err)
	}
	if _, _, err := st.ListDeliveries(ctx, mid, store.DeliveryFilter{PageSize: 3, PageToken: "garbage"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("bad page token: got %v, want ErrBadCursor", err)
	}
}
