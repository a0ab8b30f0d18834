//go:build darwin || freebsd || ios || netbsd

package securefile

import "syscall"

func ctimeOf(st *syscall.Stat_t) int64 {
	s, ns := st.Ctimespec.Unix()
	return s*1e9 + ns
}
