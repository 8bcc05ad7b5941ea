//go:build !linux

package main

import "os"

// fdatasync flushes f; off Linux, fsync stands in for fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
