package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// merchantStore opens a store on a fresh database with one merchant,
// mer_<suffix> (public id pk_<suffix>), and returns its id.
func merchantStore(t *testing.T, suffix string) (*store.Store, string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, storetest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	now := time.Now().UTC().Truncate(time.Microsecond)
	m := store.Merchant{ID: "mer_" + suffix, PublicID: "pk_" + suffix, Name: "Shop " + suffix, SecretWrapped: []byte{1}, TestMode: true, CreatedAt: now}
	k := store.MerchantKey{MerchantID: m.ID, KeyID: "k1", PublicKey: "altynpk1_x", PrivateWrapped: []byte{2}, CreatedAt: now}
	if err := st.CreateMerchant(ctx, m, k); err != nil {
		t.Fatal(err)
	}
	return st, m.ID
}

// newPool opens a pool of maxConns connections on a fresh database and runs
// the setup statements.
func newPool(t *testing.T, maxConns int32, setup ...string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(storetest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	// Detect deadlocks after 100 ms instead of 1 s (the local server's
	// user is a superuser, who may change this).
	cfg.ConnConfig.RuntimeParams["deadlock_timeout"] = "100ms"
	db, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	for _, q := range setup {
		if _, err := db.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// barrier blocks callers of wait until n of them are waiting, or ctx ends.
type barrier struct {
	n       int64
	arrived atomic.Int64
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: int64(n), all: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	if b.arrived.Add(1) == b.n {
		close(b.all)
	}
	select {
	case <-b.all:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("barrier: %w", ctx.Err())
	}
}

// writeSkew adapts ExecuteTx to cockroach-go's crdb.ExecuteTxGenericTest.
// That test runs two transactions that each read both balances of two
// accounts (100 and 100), wait until both have read, then move 100 from one
// account to the other according to what they read. Run side by side from
// the same snapshot they would both move 100 the same way, ending at 200/0
// or 0/200; the test requires both to succeed, at least one retry, and the
// balances back at 100/100, which only a retried, serialized second
// transaction produces.
type writeSkew struct {
	db      *pgxpool.Pool
	initErr error // crdb.ExecuteTxGenericTest ignores Init's error
}

var _ crdb.WriteSkewTest = (*writeSkew)(nil)

func (w *writeSkew) Init(ctx context.Context) error {
	_, w.initErr = w.db.Exec(ctx, "INSERT INTO account (id, balance) VALUES (1, 100), (2, 100)")
	return w.initErr
}

func (w *writeSkew) ExecuteTx(ctx context.Context, fn func(tx any) error) error {
	return store.ExecuteTx(ctx, w.db, func(_ context.Context, tx pgx.Tx) error { return fn(tx) })
}

func (w *writeSkew) GetBalances(ctx context.Context, txi any) (bal1, bal2 int, err error) {
	tx := txi.(pgx.Tx)
	err = tx.QueryRow(ctx, "SELECT (SELECT balance FROM account WHERE id = 1), (SELECT balance FROM account WHERE id = 2)").Scan(&bal1, &bal2)
	if err != nil {
		return 0, 0, fmt.Errorf("get balances: %w", err)
	}
	return bal1, bal2, nil
}

func (w *writeSkew) UpdateBalance(ctx context.Context, txi any, acct, delta int) error {
	tx := txi.(pgx.Tx)
	if _, err := tx.Exec(ctx, "UPDATE account SET balance = balance + $1 WHERE id = $2", delta, acct); err != nil {
		return fmt.Errorf("update account %d: %w", acct, err)
	}
	return nil
}

func TestExecuteTxWriteSkew(t *testing.T) {
	t.Parallel()
	db := newPool(t, 4, "CREATE TABLE account (id INT8 PRIMARY KEY, balance INT8 NOT NULL)")
	w := &writeSkew{db: db}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := crdb.ExecuteTxGenericTest(ctx, w)
	if w.initErr != nil {
		t.Fatalf("Init: %v", w.initErr)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestExecuteTxReadModifyWrite has n transactions read a counter, wait until
// all have read the same value, and write it plus one. Only one of them can
// commit that; the rest must fail and run again on a fresh snapshot, or an
// increment is lost.
func TestExecuteTxReadModifyWrite(t *testing.T) {
	t.Parallel()
	const n = 20
	db := newPool(t, n+2,
		"CREATE TABLE counter (id INT8 PRIMARY KEY, n INT8 NOT NULL)",
		"INSERT INTO counter VALUES (1, 0)")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var calls atomic.Int64
	allRead := newBarrier(n)
	errs := make(chan error, n)
	for range n {
		go func() {
			first := true
			errs <- store.ExecuteTx(ctx, db, func(ctx context.Context, tx pgx.Tx) error {
				calls.Add(1)
				var v int64
				if err := tx.QueryRow(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&v); err != nil {
					return fmt.Errorf("read counter: %w", err)
				}
				if first {
					first = false
					if err := allRead.wait(ctx); err != nil {
						return err
					}
				}
				if _, err := tx.Exec(ctx, "UPDATE counter SET n = $1 WHERE id = 1", v+1); err != nil {
					return fmt.Errorf("write counter: %w", err)
				}
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("ExecuteTx: %v", err)
		}
	}

	var got int64
	if err := db.QueryRow(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("counter = %d after %d increments, want %d", got, n, n)
	}
	// All n read 0, so each of the n-1 that did not commit first was
	// rejected at least once.
	if c := calls.Load(); c < 2*n-1 {
		t.Errorf("fn ran %d times for %d transactions, want at least %d (a retry for every loser)", c, n, 2*n-1)
	}
	t.Logf("%d transactions took %d attempts", n, calls.Load())
}

// TestExecuteTxDeadlock makes two transactions lock two rows in opposite
// orders; PostgreSQL kills one with 40P01, which must be retried so that
// both succeed.
func TestExecuteTxDeadlock(t *testing.T) {
	t.Parallel()
	db := newPool(t, 4,
		"CREATE TABLE item (id INT8 PRIMARY KEY, n INT8 NOT NULL)",
		"INSERT INTO item VALUES (1, 0), (2, 0)")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var version string
	if err := db.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(version, "CockroachDB") {
		t.Skip("CockroachDB resolves deadlocks itself and reports 40001")
	}

	var (
		mu    sync.Mutex
		codes []string // SQLSTATEs the transactions saw
		calls atomic.Int64
	)
	bothLocked := newBarrier(2)
	run := func(first, second int) error {
		attempt := 0
		return store.ExecuteTx(ctx, db, func(ctx context.Context, tx pgx.Tx) (err error) {
			calls.Add(1)
			attempt++
			defer func() {
				if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
					mu.Lock()
					codes = append(codes, pgErr.Code)
					mu.Unlock()
				}
			}()
			for i, id := range []int{first, second} {
				if i == 1 && attempt == 1 {
					if err := bothLocked.wait(ctx); err != nil {
						return err
					}
				}
				if _, err := tx.Exec(ctx, "UPDATE item SET n = n + 1 WHERE id = $1", id); err != nil {
					return fmt.Errorf("update item %d: %w", id, err)
				}
			}
			return nil
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run(1, 2) }()
	go func() { errs <- run(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("ExecuteTx: %v", err)
		}
	}
	if !slices.Contains(codes, "40P01") {
		t.Errorf("SQLSTATEs seen: %v, want a deadlock (40P01)", codes)
	}
	var n1, n2 int64
	if err := db.QueryRow(ctx, "SELECT (SELECT n FROM item WHERE id = 1), (SELECT n FROM item WHERE id = 2)").Scan(&n1, &n2); err != nil {
		t.Fatal(err)
	}
	if n1 != 2 || n2 != 2 {
		t.Errorf("items = %d, %d after both transactions, want 2, 2", n1, n2)
	}
	t.Logf("2 transactions took %d attempts; SQLSTATEs %v", calls.Load(), codes)
}

var errDeclined = errors.New("declined")

// TestExecuteTxError checks that an error that is not a conflict ends the
// transaction at once, is returned to the caller, and commits nothing.
func TestExecuteTxError(t *testing.T) {
	t.Parallel()
	db := newPool(t, 4,
		"CREATE TABLE entry (id INT8 PRIMARY KEY)",
		"INSERT INTO entry VALUES (1)")
	tests := []struct {
		name  string
		fn    func(ctx context.Context, tx pgx.Tx) error
		check func(error) bool
	}{
		{
			name: "error from fn",
			fn: func(ctx context.Context, tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO entry VALUES (2)"); err != nil {
					return err
				}
				return fmt.Errorf("charge: %w", errDeclined)
			},
			check: func(err error) bool { return errors.Is(err, errDeclined) },
		},
		{
			name: "unique violation",
			fn: func(ctx context.Context, tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO entry VALUES (2)"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "INSERT INTO entry VALUES (1)")
				return fmt.Errorf("insert entry: %w", err)
			},
			check: func(err error) bool {
				pgErr, ok := errors.AsType[*pgconn.PgError](err)
				return ok && pgErr.Code == "23505"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := store.ExecuteTx(t.Context(), db, func(ctx context.Context, tx pgx.Tx) error {
				calls++
				return tt.fn(ctx, tx)
			})
			if !tt.check(err) {
				t.Errorf("ExecuteTx returned %v, not the error fn returned", err)
			}
			if calls != 1 {
				t.Errorf("fn ran %d times, want 1", calls)
			}
			var rows int
			if err := db.QueryRow(t.Context(), "SELECT count(*) FROM entry").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 1 {
				t.Errorf("%d rows after the failed transaction, want the 1 from before", rows)
			}
		})
	}
}

// TestExecuteTxMaxRetries checks that a transaction that never stops
// conflicting ends after 50 retries with crdb's error, which still holds the
// database's error. It uses a deadlock error, which also proves ExecuteTx
// retries those.
func TestExecuteTxMaxRetries(t *testing.T) {
	t.Parallel()
	db := newPool(t, 4)
	calls := 0
	err := store.ExecuteTx(t.Context(), db, func(ctx context.Context, tx pgx.Tx) error {
		calls++
		return fmt.Errorf("always: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"})
	})
	if calls != 51 {
		t.Errorf("fn ran %d times, want 51 (1 + 50 retries)", calls)
	}
	if _, ok := errors.AsType[*crdb.MaxRetriesExceededError](err); !ok {
		t.Errorf("ExecuteTx returned %v, want a *crdb.MaxRetriesExceededError", err)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "40P01" {
		t.Errorf("ExecuteTx returned %v, want it to wrap the 40P01 error", err)
	}
}
