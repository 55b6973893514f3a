package ipa

import (
	"fmt"
	"strconv"
	"strings"

	"howett.net/plist"
)

// infoPlist is a decoded property list that remembers its encoding, so an
// edit writes binary plists back as binary and XML as XML.
type infoPlist struct {
	dict   map[string]any
	format int
}

func parsePlist(b []byte) (*infoPlist, error) {
	var d map[string]any
	format, err := plist.Unmarshal(b, &d)
	if err != nil {
		return nil, fmt.Errorf("%w: property list: %w", ErrFormat, err)
	}
	if d == nil {
		return nil, fmt.Errorf("%w: property list is not a dictionary", ErrFormat)
	}
	return &infoPlist{dict: d, format: format}, nil
}

func (p *infoPlist) str(key string) string {
	s, _ := p.dict[key].(string)
	return s
}

// encode writes the plist in its original format (OpenStep input is
// written as XML, which every tool reads).
func (p *infoPlist) encode() ([]byte, error) {
	format := p.format
	if format != plist.BinaryFormat {
		format = plist.XMLFormat
	}
	var b []byte
	var err error
	if format == plist.XMLFormat {
		b, err = plist.MarshalIndent(p.dict, format, "\t")
	} else {
		b, err = plist.Marshal(p.dict, format)
	}
	if err != nil {
		return nil, fmt.Errorf("ipa: encode property list: %w", err)
	}
	return b, nil
}

// SetVersions rewrites CFBundleShortVersionString and CFBundleVersion in an
// Info.plist, keeping its format (binary or XML) and every other key.
func SetVersions(b []byte, version, build string) ([]byte, error) {
	p, err := parsePlist(b)
	if err != nil {
		return nil, err
	}
	p.dict["CFBundleShortVersionString"] = version
	p.dict["CFBundleVersion"] = build
	return p.encode()
}

// CheckVersion validates a CFBundleShortVersionString: one to three
// period-separated non-negative integers (App Store Connect wants three; a
// shorter one is accepted by the format and reported by Inspect).
func CheckVersion(v string) error {
	return checkDotted("version (CFBundleShortVersionString)", v)
}

// CheckBuild validates a CFBundleVersion: one to three period-separated
// integers, each below 2^32 (larger parts fail App Store processing).
func CheckBuild(v string) error {
	return checkDotted("build number (CFBundleVersion)", v)
}

func checkDotted(what, v string) error {
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 3 {
		return fmt.Errorf("%w: %s %q must be one to three period-separated integers, e.g. 2.16.1", ErrVersion, what, v)
	}
	for _, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" {
			return fmt.Errorf("%w: %s %q has a non-numeric part %q", ErrVersion, what, v, p)
		}
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return fmt.Errorf("%w: %s %q: part %q is not below 2^32", ErrVersion, what, v, p)
		}
	}
	return nil
}

// compareDotted compares period-separated versions numerically; missing
// parts count as 0 and unparsable parts as 0.
func compareDotted(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y uint64
		if i < len(pa) {
			x, _ = strconv.ParseUint(pa[i], 10, 64)
		}
		if i < len(pb) {
			y, _ = strconv.ParseUint(pb[i], 10, 64)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
