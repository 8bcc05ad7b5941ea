// Package storetest gives tests a real database: one private PostgreSQL per
// test binary (package store/localpg, fsync off, SERIALIZABLE) and a fresh,
// empty database per test.
//
// A test package using it declares
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// and calls DatabaseURL in each test. If ALTYN_TEST_DATABASE_URL is set, the
// databases are created on that server (PostgreSQL or CockroachDB) instead.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/altynpay/altyn/store/localpg"
)

// EnvURL names the environment variable that points the tests at an
// existing server; its user must be allowed to create databases.
const EnvURL = "ALTYN_TEST_DATABASE_URL"

var (
	mainCalled atomic.Bool

	mu       sync.Mutex
	started  bool
	startErr error
	dir      string          // temporary folder holding the local server's data
	server   *localpg.Server // nil when EnvURL is used
	adminURL string          // database used to create and drop test databases
	admin    *pgxpool.Pool
)

// Main runs the tests of a package, then stops the shared server and removes
// its folder, and exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// DatabaseURL returns the URL of a new, empty database for this test and
// drops it when the test ends (close pools first, or they lose their
// connections). It starts the shared server on first use and is safe to
// call from parallel tests.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(name); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Server returns the shared local server, starting it if needed, for tests
// that need the server itself (pgbench, restarts). It skips the test when
// EnvURL is set: there is no local server then.
func Server(tb testing.TB) *localpg.Server {
	tb.Helper()
	if os.Getenv(EnvURL) != "" {
		tb.Skipf("storetest: %s is set; no local PostgreSQL", EnvURL)
	}
	if err := setup(); err != nil {
		tb.Fatal(err)
	}
	return server
}

// setup connects to the server of EnvURL or starts the local one, once.
func setup() error {
	if !mainCalled.Load() {
		return errors.New("storetest: the package's tests need func TestMain(m *testing.M) { storetest.Main(m) }, which stops the shared PostgreSQL")
	}
	mu.Lock()
	defer mu.Unlock()
	if started {
		return startErr
	}
	started = true
	startErr = start()
	return startErr
}

func start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL = os.Getenv(EnvURL)
	if adminURL == "" {
		var err error
		if dir, err = os.MkdirTemp("", "altyn-storetest-"); err != nil {
			return fmt.Errorf("storetest: %w", err)
		}
		// MkdirTemp makes the folder 0700; when we are root, postgres runs
		// as another user, who must be able to enter it to reach its data.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("storetest: %w", err)
		}
		if server, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "pg")}); err != nil {
			return fmt.Errorf("storetest: %w", err)
		}
		adminURL = server.URL("postgres")
	}
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		return fmt.Errorf("storetest: %s: %w", EnvURL, err)
	}
	cfg.MaxConns = 4
	if admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("storetest: %w", err)
	}
	return nil
}

func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if admin != nil {
		admin.Close()
	}
	var err error
	if server != nil {
		err = server.Stop()
	}
	if dir != "" {
		err = errors.Join(err, os.RemoveAll(dir))
	}
	return err
}

// dropDatabase drops name even if connections remain. PostgreSQL spells that
// WITH (FORCE); CockroachDB rejects that syntax and wants CASCADE.
func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := pgx.Identifier{name}.Sanitize()
	_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42601" { // syntax_error
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" CASCADE")
	}
	return err
}

// databaseName makes a unique, valid database name that says which test it
// belongs to: t_<test name>_<random>, within PostgreSQL's 63 bytes.
func databaseName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if b.Len() == 40 {
			break
		}
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "t_" + b.String() + "_" + strings.ToLower(rand.Text()[:10])
}
