package localpg

import "syscall"

// sysProcAttr runs a PostgreSQL program as cred (nil: as ourselves) in its own
// process group, so a Ctrl-C at the terminal reaches only our process, which
// then stops postgres after draining its own work.
//
// Pdeathsig makes the kernel signal postgres when our process dies without
// calling Stop (kill -9, crash). SIGINT is PostgreSQL's fast shutdown: it
// disconnects clients and writes a checkpoint, so the next start needs no
// crash recovery. (SIGKILL would orphan the backends and their shared
// memory; SIGTERM, the smart shutdown, waits for clients to leave.) Go sets
// it after switching user, which would otherwise clear it. The signal fires
// when the OS thread that started postgres exits; Go's threads live as long
// as the process unless a goroutine exits while locked to its thread, which
// ours never do.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
}
