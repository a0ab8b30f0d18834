//go:build aix || dragonfly || illumos || linux || openbsd || solaris

package securefile

import "syscall"

func ctimeOf(st *syscall.Stat_t) int64 {
	s, ns := st.Ctim.Unix()
	return s*1e9 + ns
}
