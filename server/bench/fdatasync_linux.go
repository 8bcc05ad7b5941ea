package main

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data as PostgreSQL flushes its WAL on Linux
// (wal_sync_method = fdatasync).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
