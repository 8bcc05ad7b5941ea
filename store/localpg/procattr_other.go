//go:build unix && !linux

package localpg

import "syscall"

// sysProcAttr runs a PostgreSQL program as cred (nil: as ourselves) in its own
// process group, so a Ctrl-C at the terminal reaches only our process, which
// then stops postgres after draining its own work. Outside Linux there is no
// parent-death signal: a postgres whose parent was killed keeps running until
// stopped, and the next Start reports it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
