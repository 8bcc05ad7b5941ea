//go:build unix

package main

import "syscall"

// offHeap returns n bytes of anonymous memory that the Go runtime neither
// scans nor counts in the heap that paces the garbage collector.
func offHeap(n int) ([]byte, func(), error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
