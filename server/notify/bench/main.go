// Command bench measures merchant notifications: how many a replica
// delivers per second to a local receiver, and how long a notification
// takes from the commit of its outbox row to its arrival.
//
//	go run ./server/notify/bench [-n 5000] [-rates 20,200] [-duration 10s]
//
// It starts its own PostgreSQL (fsync on) and an altyn App in this process,
// with one merchant whose Pay notifications (altyn format, signed) go to an
// HTTP receiver on loopback. Phase 1 writes n outbox rows, then starts the
// worker and times their delivery. Phase 2 commits rows one per
// transaction at steady rates while the worker runs, and reports the
// commit-to-arrival delay: once found by polling (as a replica other than
// the one that wrote the row finds it), once with the writer waking the
// worker (as the replica that took a payment does).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/internal/benchenv"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/localpg"
)

func main() {
	n := flag.Int("n", 5000, "notifications in the throughput phase")
	rates := flag.String("rates", "20,200", "outbox rows committed per second in the latency runs, comma-separated")
	duration := flag.Duration("duration", 10*time.Second, "length of each latency run")
	perTarget := flag.Int("per-target", notify.DefaultConfig.PerTarget, "deliveries in flight to one URL")
	concurrency := flag.Int("concurrency", notify.DefaultConfig.Concurrency, "deliveries in flight per replica")
	flag.Parse()
	var list []int
	for r := range strings.SplitSeq(*rates, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || k <= 0 {
			fmt.Fprintln(os.Stderr, "bench: -rates must list positive integers")
			os.Exit(2)
		}
		list = append(list, k)
	}
	if err := run(*n, list, *duration, *perTarget, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// arrivals records when each notification reached the receiver.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	dups int
	all  chan struct{}
	want int
}

func (a *arrivals) expect(n int) {
	a.mu.Lock()
	a.at, a.dups, a.want, a.all = map[string]time.Time{}, 0, n, make(chan struct{})
	a.mu.Unlock()
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	now := time.Now()
	id := r.Header.Get(notify.EventIDHeader)
	a.mu.Lock()
	if _, ok := a.at[id]; ok {
		a.dups++
	} else {
		a.at[id] = now
		if len(a.at) == a.want {
			close(a.all)
		}
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"code":0}`)
}

func run(n int, rates []int, duration time.Duration, perTarget, concurrency int) error {
	ctx := context.Background()
	fmt.Printf("machine: %s\n\n", machine())
	dir, err := os.MkdirTemp("", "altyn-notify-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // postgres runs as another user
		return err
	}
	pg, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "pg"), Fsync: true})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, "altyn"); err != nil {
		return err
	}
	master, _, err := vault.Generate()
	if err != nil {
		return err
	}
	cfg := notify.DefaultConfig
	cfg.PerTarget, cfg.Concurrency = perTarget, concurrency
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, app.Config{DatabaseURL: pg.URL("altyn"), MasterKey: master, BaseURL: "http://127.0.0.1:0", Logger: log, Notify: cfg})
	if err != nil {
		return err
	}
	defer a.Close()
	m, err := a.Merchants.Create(ctx, merchants.CreateOptions{Name: "Bench shop", TestMode: true})
	if err != nil {
		return err
	}
	recv := &arrivals{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	if _, err := a.Notifier.UpdateSettings(ctx, m.Merchant.ID, notify.Settings{Type: notify.TypePay, Enabled: true, URL: srv.URL}); err != nil {
		return err
	}
	c := a.Notifier.Config()
	fmt.Printf("notifier: %d in flight per replica, %d per URL, poll every %s; altyn format (JSON + HMAC-SHA256), HTTP/1.1 keep-alive\n",
		c.Concurrency, c.PerTarget, c.PollInterval)

	// Phase 1: a backlog of n rows, then the worker.
	recv.expect(n)
	msgs := make([]store.OutboxMessage, 0, 500)
	for i := range n {
		msgs = append(msgs, payEvent(m.Merchant.ID, fmt.Sprintf("evt_burst%06d", i)))
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := a.Store.InsertOutbox(ctx, msgs...); err != nil {
				return err
			}
			msgs = msgs[:0]
		}
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); a.Notifier.Run(wctx) }()
	defer func() { stop(); <-done }()
	select {
	case <-recv.all:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("only %d of %d delivered in 10 minutes", len(recv.at), n)
	}
	took := time.Since(start)
	fmt.Printf("\nthroughput: %d notifications (fan-out, lease, sign, POST, record) in %s: %.0f deliveries/s; duplicates %d\n",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), recv.dups)

	// Phase 2: steady streams, found by polling and woken by the writer.
	fmt.Println()
	for _, rate := range rates {
		for _, wake := range []bool{false, true} {
			if err := latency(ctx, a, m.Merchant.ID, recv, rate, duration, wake); err != nil {
				return err
			}
		}
	}
	return nil
}

func latency(ctx context.Context, a *app.App, merchantID string, recv *arrivals, rate int, duration time.Duration, wake bool) error {
	total := int(duration.Seconds() * float64(rate))
	recv.expect(total)
	committed := make(map[string]time.Time, total)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var slow int
	for i := range total {
		<-tick.C
		id := fmt.Sprintf("evt_%d_%v_%06d", rate, wake, i)
		if err := a.Store.InsertOutbox(ctx, payEvent(merchantID, id)); err != nil {
			return err
		}
		committed[id] = time.Now()
		if wake {
			a.Notifier.Poke()
		}
		if len(tick.C) > 0 {
			slow++ // the writer fell behind the rate
		}
	}
	select {
	case <-recv.all:
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("only %d of %d delivered", len(recv.at), total)
	}
	recv.mu.Lock()
	delays := make([]time.Duration, 0, total)
	for id, at := range committed {
		delays = append(delays, recv.at[id].Sub(at))
	}
	dups := recv.dups
	recv.mu.Unlock()
	slices.Sort(delays)
	pct := func(p float64) time.Duration {
		return delays[int(p*float64(len(delays)-1))].Round(100 * time.Microsecond)
	}
	how := "polled"
	if wake {
		how = "woken "
	}
	fmt.Printf("latency at %4d/s (%d rows), %s: commit→arrival p50 %7s  p99 %7s  max %7s; duplicates %d",
		rate, total, how, pct(0.50), pct(0.99), delays[len(delays)-1].Round(100*time.Microsecond), dups)
	if slow > 0 {
		fmt.Printf(" (the writer fell behind %d times)", slow)
	}
	fmt.Println()
	return nil
}

// payEvent is a Pay outbox row about a hand-made payment, as the engine
// writes one.
func payEvent(merchantID, id string) store.OutboxMessage {
	now := time.Now().UTC()
	p := &store.Payment{
		ID: "pay_" + id, MerchantID: merchantID, TransactionID: 4242, Status: store.StatusCompleted,
		Amount: 150000, Currency: "RUB", AuthorizedAmount: 150000, CapturedAmount: 150000,
		InvoiceID: "order-" + id, AccountID: "user-1", Email: "payer@example.com", Description: "Order",
		CardFirstSix: "400000", CardLastFour: "3055", CardBrand: "Visa", CardExpMonth: 12, CardExpYear: 2030,
		AuthCode: "A1B2C3", TestMode: true, CreatedAt: now, UpdatedAt: now,
	}
	payload, _ := json.Marshal(payments.Event{ID: id, Type: payments.EventPay, Payment: p, CreatedAt: now})
	return store.OutboxMessage{ID: id, MerchantID: merchantID, Type: payments.EventPay, PaymentID: p.ID, Payload: payload, CreatedAt: now}
}

// machine names the CPU, cores, Go and the load when the run started.
func machine() string {
	return fmt.Sprintf("%s, %d vCPU, %s, load average %s", benchenv.CPUModel(), runtime.NumCPU(), runtime.Version(), benchenv.LoadAvg())
}
