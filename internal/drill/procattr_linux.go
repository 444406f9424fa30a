//go:build linux

package drill

import "syscall"

// sysProcAttr puts a child in its own process group (a Ctrl-C to the
// drill's terminal reaches the drill, which then ends its children) and
// has the kernel kill it if the drill itself dies, even by kill -9: no
// orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's process group.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
