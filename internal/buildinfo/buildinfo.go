// Package buildinfo says which Ripcord this binary is, for `ripcord version`,
// the ripcord_build_info metric and bug reports.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info identifies the running binary.
type Info struct {
	Version   string `json:"version"`    // module version, or "devel"
	Revision  string `json:"revision"`   // VCS commit, when the build recorded it
	GoVersion string `json:"go_version"` // toolchain that built it
}

// Read returns what the Go toolchain recorded about this build.
func Read() Info {
	info := Info{Version: "devel", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			info.Revision = s.Value
		}
	}
	return info
}
