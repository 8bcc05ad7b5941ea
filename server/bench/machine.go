package main

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/internal/benchenv"
)

// machine describes where the figures were taken.
type machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"cpu_model"`
	MemoryGB int    `json:"memory_gib"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	// LoadAvg is the 1-minute load average when the benchmark started: work
	// of other processes skews the figures.
	LoadAvg string `json:"load_avg_1m"`
	// Fdatasync is the time of one 8 KiB write and fdatasync in the data
	// folder's file system: the floor of a durable COMMIT.
	Fdatasync time.Duration `json:"fdatasync_ns"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Model: benchenv.CPUModel()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.MemoryGB = (kb + 1<<19) >> 20
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg, _, _ = strings.Cut(benchenv.LoadAvg(), " ")
	return m
}

// measureFdatasync times an 8 KiB overwrite (a WAL page) and fdatasync in
// dir. The file is written and synced in full first: WAL segments are
// preallocated, so a commit's flush changes no file size or block map.
func measureFdatasync(dir string) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const pages, n = 16, 200
	page := make([]byte, 8192)
	if _, err := f.Write(make([]byte, pages*len(page))); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := range n {
		if _, err := f.WriteAt(page, int64(i%pages*len(page))); err != nil {
			return 0, err
		}
		if err := fdatasync(f); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / n, nil
}

// cpuSample is a reading of CPU time spent so far: by the whole machine and
// by this process and its descendants (PostgreSQL, pgbench), from /proc.
type cpuSample struct {
	ok         bool
	busy, all  time.Duration // summed over all CPUs
	iowait     time.Duration
	irq, steal time.Duration // interrupts (loopback traffic is softirq), and time the hypervisor took
	self       time.Duration
	postgres   time.Duration // postmaster, backends, and the backends it has reaped
	otherChild time.Duration
	procs      map[int]benchenv.Proc
	ours       map[int]bool // this process and its descendants
}

func sampleCPU() cpuSample {
	var s cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	var v [8]time.Duration // user nice system idle iowait irq softirq steal
	for i := range v {
		n, _ := strconv.ParseInt(f[i+1], 10, 64)
		v[i] = time.Duration(n) * benchenv.ClockTick
	}
	s.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	s.iowait = v[4]
	s.irq, s.steal = v[5]+v[6], v[7]
	s.all = s.busy + v[3] + v[4]

	procs := benchenv.Procs()
	self := os.Getpid()
	s.procs, s.ours = procs, map[int]bool{self: true}
	if p, ok := procs[self]; ok {
		s.self = p.Own
	}
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.PPID] = append(children[p.PPID], pid)
	}
	// Descendants count with their reaped children (cutime, cstime), so
	// that a backend that exits during the window is not lost; this
	// process's own reaped children (initdb, pgbench -i) are left out.
	queue := children[self]
	for len(queue) > 0 {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		s.ours[pid] = true
		p := procs[pid]
		if p.Comm == "postgres" {
			s.postgres += p.Own + p.Reaped
		} else {
			s.otherChild += p.Own + p.Reaped
		}
	}
	s.ok = true
	return s
}

// cpuUse is where the CPU time of a phase went, in cores (CPU seconds per
// second of the phase).
type cpuUse struct {
	Busy     float64 `json:"busy_cores"` // the whole machine
	IOWait   float64 `json:"iowait_cores"`
	Process  float64 `json:"bench_process_cores"` // this process: altyn server and load client
	Postgres float64 `json:"postgres_cores"`
	Client   float64 `json:"pgbench_cores,omitempty"`
	Other    float64 `json:"other_cores"` // everything else: the kernel's interrupts, the hypervisor, other processes
	IRQ      float64 `json:"irq_cores"`
	Steal    float64 `json:"steal_cores"`
	// TopOthers are the busiest processes that are not ours, by command
	// name, with kernel threads: a sign of a disturbed run.
	TopOthers []string `json:"top_others,omitempty"`
}

// cpuBetween attributes the CPU time between two samples; extraChild is
// time of a child that exited and was reaped by this process in between
// (pgbench), which the samples do not see.
func cpuBetween(a, b cpuSample, elapsed, extraChild time.Duration) (cpuUse, bool) {
	if !a.ok || !b.ok || b.all <= a.all {
		return cpuUse{}, false
	}
	cores := float64(runtime.NumCPU())
	share := func(d time.Duration) float64 { return d.Seconds() / elapsed.Seconds() }
	u := cpuUse{
		Busy:     float64(b.busy-a.busy) / float64(b.all-a.all) * cores,
		IOWait:   float64(b.iowait-a.iowait) / float64(b.all-a.all) * cores,
		Process:  share(b.self - a.self),
		Postgres: share(b.postgres - a.postgres),
		Client:   share(b.otherChild - a.otherChild + extraChild),
	}
	u.Other = max(0, u.Busy-u.Process-u.Postgres-u.Client)
	u.IRQ = float64(b.irq-a.irq) / float64(b.all-a.all) * cores
	u.Steal = float64(b.steal-a.steal) / float64(b.all-a.all) * cores
	byComm := map[string]time.Duration{}
	for pid, p := range b.procs {
		if b.ours[pid] || a.ours[pid] {
			continue
		}
		// Own time only: a long-lived process's reaped children may have
		// run before the window.
		d := p.Own
		if q, ok := a.procs[pid]; ok && q.Start == p.Start {
			d -= q.Own
		}
		comm := p.Comm
		if strings.HasPrefix(comm, "kworker/") {
			comm = "kworker" // a kernel worker's name changes with the work it does
		}
		if d > 0 {
			byComm[comm] += d
		}
	}
	for _, comm := range slices.SortedFunc(maps.Keys(byComm), func(x, y string) int { return cmp.Compare(byComm[y], byComm[x]) }) {
		if c := share(byComm[comm]); c >= 0.01 && len(u.TopOthers) < 4 {
			u.TopOthers = append(u.TopOthers, fmt.Sprintf("%s %.2f", comm, c))
		}
	}
	return u, true
}
