package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// dbSample is a reading of PostgreSQL's counters for one database.
type dbSample struct {
	commits, rollbacks int64
	walBytes           int64 // position in the WAL, cluster-wide
}

// dbUse is what a phase cost PostgreSQL, per operation (a charge or a
// pgbench transaction).
type dbUse struct {
	WALBytesPerOp float64 `json:"wal_bytes_per_op"`
	CommitsPerOp  float64 `json:"commits_per_op"`
	// RollbacksPer100 is transactions rolled back (serialization failures
	// that were retried) per 100 commits. The counters reach the statistics
	// up to a second late, so it is approximate.
	RollbacksPer100 float64 `json:"rollbacks_per_100_commits"`
	// HOTShare is the share of updates of the payments table that were
	// heap-only (no index changed); altyn only.
	HOTShare *float64 `json:"hot_update_share,omitempty"`
}

func sampleDB(ctx context.Context, conn *pgx.Conn, database string) (dbSample, error) {
	var s dbSample
	err := conn.QueryRow(ctx, `SELECT xact_commit, xact_rollback, (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8
		FROM pg_stat_database WHERE datname = $1`, database).Scan(&s.commits, &s.rollbacks, &s.walBytes)
	if err != nil {
		return s, fmt.Errorf("read statistics of %s: %w", database, err)
	}
	return s, nil
}

func dbBetween(a, b dbSample, ops int) dbUse {
	u := dbUse{}
	if ops > 0 {
		u.WALBytesPerOp = float64(b.walBytes-a.walBytes) / float64(ops)
		u.CommitsPerOp = float64(b.commits-a.commits) / float64(ops)
	}
	if c := b.commits - a.commits; c > 0 {
		u.RollbacksPer100 = 100 * float64(b.rollbacks-a.rollbacks) / float64(c)
	}
	return u
}

// hotShare reads the share of heap-only updates of altyn's payments table.
func hotShare(ctx context.Context, url string) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var upd, hot int64
	if err := conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'payments'`).Scan(&upd, &hot); err != nil {
		return 0, fmt.Errorf("read payments statistics: %w", err)
	}
	if upd == 0 {
		return 0, nil
	}
	return float64(hot) / float64(upd), nil
}
