// Package localpg runs a private PostgreSQL server from the machine's
// PostgreSQL binaries. It is the embedded database of a server started without
// DATABASE_URL and the database of the tests; production connects to
// CockroachDB by URL instead (ARCHITECTURE.md, "The database").
//
// The server listens on 127.0.0.1 only, with trust authentication for the
// superuser "postgres", and runs every transaction at SERIALIZABLE so that it
// fails conflicting transactions with the same 40001 error CockroachDB uses.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures Start.
type Options struct {
	// Dir is the data folder; it is PGDATA itself. initdb runs only if Dir has
	// no PG_VERSION file; missing parent folders are created.
	Dir string
	// Port is the loopback TCP port; 0 picks a free one.
	Port int
	// Fsync keeps PostgreSQL's durability settings. False (for tests) turns
	// off fsync, synchronous_commit and full_page_writes: fast, but a crash of
	// the machine may lose or corrupt data.
	Fsync bool
	// Logger receives start and stop events; nil discards them. PostgreSQL's
	// own output goes to Dir/postgres.log.
	Logger *slog.Logger
	// MaxConns is max_connections; 0 means 200.
	MaxConns int
}

// Server is a running PostgreSQL started by Start.
type Server struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	log    *os.File
	logger *slog.Logger

	exited  chan struct{} // closed once the postgres process has exited
	waitErr error         // cmd.Wait's result, set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

const (
	logName      = "postgres.log"
	readyTimeout = 2 * time.Minute // crash recovery of a big WAL can take a while
	stopTimeout  = time.Minute
	orphanWait   = 15 * time.Second // for backends of a killed postmaster to exit
)

// Start initializes Dir if needed, starts postgres on it and waits until it
// accepts connections. It fails with a clear error if another postgres is
// running on Dir.
func Start(ctx context.Context, o Options) (*Server, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.Dir == "" {
		return nil, errors.New("localpg: no data folder given")
	}
	if o.MaxConns == 0 {
		o.MaxConns = 200
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	bin, err := findBinDir(dir)
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := initdb(ctx, bin, dir, cred, o.Fsync); err != nil {
			return nil, err
		}
		logger.Info("initialized PostgreSQL data folder", "dir", dir, "elapsed", time.Since(began).Round(time.Millisecond))
	} else if err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	if err := checkReachable(dir, cred); err != nil {
		return nil, err
	}
	if err := clearStalePID(ctx, dir); err != nil {
		return nil, err
	}

	logFile, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	if cred != nil {
		_ = logFile.Chown(int(cred.Uid), int(cred.Gid))
	}
	// A free port picked here can be taken by someone else before postgres
	// binds it; then try another.
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				logFile.Close()
				return nil, err
			}
		}
		s := &Server{dir: dir, port: port, log: logFile, logger: logger, exited: make(chan struct{})}
		err = s.launch(ctx, bin, cred, o)
		if err == nil {
			logger.Info("PostgreSQL started", "dir", dir, "port", port, "elapsed", time.Since(began).Round(time.Millisecond))
			return s, nil
		}
		switch {
		case o.Port == 0 && attempt < 3 && strings.Contains(err.Error(), "could not bind"):
		case time.Since(began) < orphanWait && strings.Contains(err.Error(), "pre-existing shared memory block"):
			// A postmaster killed with SIGKILL leaves its backends running
			// until they notice it is gone; they exit within moments.
			time.Sleep(200 * time.Millisecond)
		default:
			logFile.Close()
			return nil, err
		}
	}
}

// launch starts postgres and waits until it answers.
func (s *Server) launch(ctx context.Context, bin string, cred *syscall.Credential, o Options) error {
	offset, _ := s.log.Seek(0, io.SeekEnd)
	args := []string{
		"-D", s.dir,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + socketDir(s.dir, s.port),
		"-c", "default_transaction_isolation=serializable",
		"-c", "max_connections=" + strconv.Itoa(o.MaxConns),
	}
	if !o.Fsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = s.dir // postgres fails if it cannot read its working directory
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = sysProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("localpg: start postgres: %w", err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.stop() // not Stop: the log file stays open for another attempt
		return fmt.Errorf("%w%s", err, logTail(s.log.Name(), offset))
	}
	return nil
}

// waitReady polls until postgres accepts a connection, exits, or time runs out.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ping(ctx, s.URL("postgres"))
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("localpg: postgres exited during start (%v)", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("localpg: postgres not ready: %w", err)
		case <-tick.C:
		}
	}
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// URL returns the address of database on this server as the superuser.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, url.PathEscape(database))
}

// ErrRunning: another process's PostgreSQL already serves the data folder.
var ErrRunning = errors.New("localpg: already running")

// RunningURL returns the URL of database on the PostgreSQL another process
// runs in dir (read from its postmaster.pid), so a command-line tool can use
// the database of a server that is up.
func RunningURL(dir, database string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return "", fmt.Errorf("localpg: %w", err)
	}
	// Line 4 of postmaster.pid is the port.
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return "", errors.New("localpg: postmaster.pid has no port")
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return "", fmt.Errorf("localpg: postmaster.pid port: %w", err)
	}
	return (&Server{port: port}).URL(database), nil
}

// Port returns the loopback TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// CreateDatabase creates the database name unless it already exists.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("localpg: create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("localpg: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts postgres down and waits for it to exit. It returns an error if
// postgres did not exit cleanly, including when it had died before Stop. It
// may be called more than once; later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop()
		s.log.Close()
		if s.stopErr == nil {
			s.logger.Info("PostgreSQL stopped", "dir", s.dir)
		}
	})
	return s.stopErr
}

func (s *Server) stop() error {
	select {
	case <-s.exited:
		return s.exitErr() // it already died (or was killed)
	default:
	}
	// SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions,
	// disconnect clients, write a checkpoint, exit. SIGQUIT ("immediate") is
	// the fallback: it leaves crash recovery to the next start.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT} {
		if err := s.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("localpg: stop postgres: %w", err)
		}
		select {
		case <-s.exited:
			return s.exitErr()
		case <-time.After(stopTimeout):
			s.logger.Warn("PostgreSQL did not stop in time", "dir", s.dir, "signal", sig)
		}
	}
	return fmt.Errorf("localpg: postgres (pid %d) did not stop", s.cmd.Process.Pid)
}

// exitErr reports an exit other than a clean shutdown; call it after exited.
func (s *Server) exitErr() error {
	if s.waitErr != nil {
		return fmt.Errorf("localpg: postgres exited: %w", s.waitErr)
	}
	return nil
}

// initdb creates the cluster in dir: superuser postgres, trust
// authentication (the server listens on loopback and a 0700 socket folder
// only), UTF8 and the C locale, which sorts bytes like CockroachDB does.
func initdb(ctx context.Context, bin, dir string, cred *syscall.Credential, fsync bool) error {
	if err := makeDir(dir, cred); err != nil {
		return err
	}
	if err := checkReachable(dir, cred); err != nil {
		return err
	}
	args := []string{"-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr(cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("localpg: initdb %s: %w\n%s", dir, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// makeDir creates dir, or takes it if it exists and is empty, for the
// postgres user. Folders it creates on the way are 0755 so that user can
// reach dir even when we run as root with a restrictive umask; dir itself
// belongs to that user.
func makeDir(dir string, cred *syscall.Credential) error {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		missing = append(missing, p)
	}
	for _, p := range slices.Backward(missing) {
		mode := os.FileMode(0o755)
		if p == dir {
			mode = 0o700
		}
		if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("localpg: %w", err)
		}
		if err := os.Chmod(p, mode); err != nil { // undo the umask
			return fmt.Errorf("localpg: %w", err)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return fmt.Errorf("localpg: %s is not empty but holds no PostgreSQL data (no PG_VERSION); use an empty or new folder", dir)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	return nil
}

// checkReachable reports a folder above dir that the postgres user cannot
// enter, e.g. a root-owned 0700 temporary folder, rather than letting
// postgres fail with a vaguer message. Only the user's primary group counts:
// the child process runs without supplementary groups.
func checkReachable(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		if ok && !(st.Uid == cred.Uid && mode&0o100 != 0 || st.Gid == cred.Gid && mode&0o010 != 0 || mode&0o001 != 0) {
			return fmt.Errorf("localpg: postgres runs as uid %d, which cannot enter %s (mode %v); put the data folder %s under a folder others can enter",
				cred.Uid, p, mode, dir)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// credential returns the user to run initdb and postgres as. PostgreSQL
// refuses to run as root, so root runs them as "postgres" (or "nobody");
// anyone else runs them as themselves (nil).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("localpg: PostgreSQL refuses to run as root and neither a postgres nor a nobody user exists: apt-get install -y postgresql")
}

// findBinDir returns the folder holding initdb and postgres: the major
// version that created dir if it exists (a server opens only its own major
// version's data), then PATH, then /usr/lib/postgresql/*/bin, highest
// version first.
func findBinDir(dir string) (string, error) {
	var dirs []string
	if v, err := os.ReadFile(filepath.Join(dir, "PG_VERSION")); err == nil {
		dirs = append(dirs, filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin"))
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if p, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		return -cmpFloat(va, vb)
	})
	for _, d := range append(dirs, versions...) {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errors.New("localpg: PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin: apt-get install -y postgresql")
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// clearStalePID deals with the postmaster.pid of a postgres that did not shut
// down cleanly (kill -9, power loss). postgres removes such a file itself
// unless its PID now belongs to another live process of the same user, which
// is common after a container restart; so remove it here when the process is
// gone or is not a postgres serving dir. A postgres that still serves dir is
// an error, except that one shutting down (the previous run's postgres,
// stopping because that run died) is given time to finish.
func clearStalePID(ctx context.Context, dir string) error {
	pidFile := filepath.Join(dir, "postmaster.pid")
	deadline := time.Now().Add(stopTimeout)
	for {
		b, err := os.ReadFile(pidFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		lines := strings.Split(string(b), "\n")
		pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
		switch servesDir(pid, dir) {
		case unknown:
			return nil // let postgres decide
		case no:
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("localpg: remove stale %s: %w", pidFile, err)
			}
			locks, _ := filepath.Glob(filepath.Join(dir, ".s.PGSQL.*.lock"))
			for _, l := range locks {
				_ = os.Remove(l)
			}
			return nil
		}
		// Line 8 of postmaster.pid is the server's status.
		if len(lines) < 8 || strings.TrimSpace(lines[7]) != "stopping" || time.Now().After(deadline) {
			return fmt.Errorf("%w: PostgreSQL (pid %d) is already running on %s; stop it or use another data folder", ErrRunning, pid, dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type answer int

const (
	unknown answer = iota
	no
	yes
)

// servesDir tells whether process pid is alive with dir as its working
// directory, which a postmaster's is (Linux /proc; unknown elsewhere).
func servesDir(pid int, dir string) answer {
	if pid <= 0 {
		return no
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return no
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return unknown
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil && real == cwd {
		return yes
	}
	return no
}

// socketDir is the folder for postgres's unix socket: the data folder,
// which only the postgres user can enter, or none when the socket's path
// would exceed the kernel's 107-byte limit or not survive the setting's
// comma-separated syntax; TCP on loopback always works.
func socketDir(dir string, port int) string {
	if len(dir)+len("/.s.PGSQL.")+len(strconv.Itoa(port)) > 107 || strings.ContainsAny(dir, ", \t'\"\\") {
		return ""
	}
	return dir
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localpg: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns what postgres wrote to the log since offset (at most the
// last 2 KB), to explain a failed start.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) <= offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return "\n" + strings.TrimSpace(string(b)) + "\n(log: " + path + ")"
}
