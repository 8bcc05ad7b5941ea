//go:build !unix

package main

// offHeap falls back to the Go heap where anonymous mmap is not available;
// the garbage collector then runs less often than in a real server.
func offHeap(n int) ([]byte, func(), error) {
	return make([]byte, n), func() {}, nil
}
