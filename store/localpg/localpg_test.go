package localpg_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/altynpay/altyn/store/localpg"
)

// dataDir returns a data folder the postgres user can reach: t.TempDir is a
// 0700 folder of ours, which it cannot enter when the test runs as root.
func dataDir(t *testing.T) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "localpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(parent, "data", "pg") // "data" does not exist yet: Start makes it
}

func start(t *testing.T, ctx context.Context, dir string) *localpg.Server {
	t.Helper()
	began := time.Now()
	s, err := localpg.Start(ctx, localpg.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Start(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Stop() })
	t.Logf("Start took %v (port %d)", time.Since(began).Round(time.Millisecond), s.Port())
	return s
}

func connect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := dataDir(t)

	s := start(t, ctx, dir)
	for range 2 { // the second call finds the database and succeeds
		if err := s.CreateDatabase(ctx, "app"); err != nil {
			t.Fatalf("CreateDatabase(app): %v", err)
		}
	}
	conn := connect(t, ctx, s.URL("app"))
	var iso string
	if err := conn.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&iso); err != nil {
		t.Fatal(err)
	}
	if iso != "serializable" {
		t.Errorf("default_transaction_isolation = %q, want serializable", iso)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if _, err := localpg.Start(ctx, localpg.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start on a live folder: got %v, want an \"already running\" error", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after Stop: %v, want it gone", err)
	}

	s = start(t, ctx, dir)
	assertKept(t, ctx, s)

	// Kill postgres as a power cut would: the next Start must clear the
	// stale postmaster.pid and recover.
	pid := postmasterPID(t, dir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err == nil {
		t.Error("Stop after kill -9: got nil, want the abnormal exit reported")
	}
	s = start(t, ctx, dir)
	assertKept(t, ctx, s)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func assertKept(t *testing.T, ctx context.Context, s *localpg.Server) {
	t.Helper()
	conn := connect(t, ctx, s.URL("app"))
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "hello" {
		t.Errorf("after restart: got %q, %v; want \"hello\"", v, err)
	}
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
