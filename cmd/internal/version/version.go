// Package version is the version segl and segld report: the one the
// Makefile stamps in from `git describe`, else the module's build info
// (the VCS revision, and whether the tree was modified).
package version

import "runtime/debug"

// stamped is set at build time:
//
//	go build -ldflags "-X github.com/segl/segl/cmd/internal/version.stamped=$(git describe --tags --always --dirty)"
var stamped string

// String is the version.
func String() string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}
