// Package benchenv reads what altyn's benchmark commands report about the
// machine from Linux's /proc: the CPU model, the load average and the CPU
// time of every process.
package benchenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTick is Linux's USER_HZ, the unit of the times in /proc; it is 100
// on every architecture Go supports.
const ClockTick = time.Second / 100

// CPUModel is the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// LoadAvg is the 1-, 5- and 15-minute load averages, "?" if unknown.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Proc is one process's CPU time.
type Proc struct {
	Comm   string
	PPID   int
	Start  int64         // start time in clock ticks after boot, to tell a reused pid
	Own    time.Duration // user + system time of the process
	Reaped time.Duration // user + system time of its children that it has waited for
}

// Procs reads every process's /proc/<pid>/stat.
func Procs() map[int]Proc {
	out := map[int]Proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime cutime cstime; comm may
		// hold spaces and parentheses, so split after its last ')'.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 20 {
			continue
		}
		num := func(i int) time.Duration {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			return time.Duration(n) * ClockTick
		}
		ppid, _ := strconv.Atoi(f[1])
		start, _ := strconv.ParseInt(f[19], 10, 64)
		out[pid] = Proc{Comm: s[open+1 : end], PPID: ppid, Start: start, Own: num(11) + num(12), Reaped: num(13) + num(14)}
	}
	return out
}
