package ipa

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // CodeResources "hash" entries are SHA-1 by format
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"

	"howett.net/plist"
)

// fileHash is the pair of digests CodeResources records for a file.
type fileHash struct {
	sha1   []byte
	sha256 []byte
}

func hashReader(r io.Reader, buf []byte) (fileHash, error) {
	h1, h2 := sha1.New(), sha256.New() //nolint:gosec // format-mandated
	if _, err := io.CopyBuffer(io.MultiWriter(h1, h2), r, buf); err != nil {
		return fileHash{}, err
	}
	return fileHash{sha1: h1.Sum(nil), sha256: h2.Sum(nil)}, nil
}

func hashBytes(b []byte) fileHash {
	h1, h2 := sha1.Sum(b), sha256.Sum256(b) //nolint:gosec // format-mandated
	return fileHash{sha1: h1[:], sha256: h2[:]}
}

// nestedSeal is how a parent records nested code: by cdhash and
// designated requirement.
type nestedSeal struct {
	cdhash      []byte // primary CodeDirectory hash truncated to 20 bytes
	requirement string
}

// resourceKind classifies a bundle-relative path by the iOS rules2: omitted,
// optional (localized), or sealed.
type resourceKind int

const (
	resSealed resourceKind = iota
	resOptional
	resOmitted
)

func classify2(rel string) resourceKind {
	base := rel[strings.LastIndex(rel, "/")+1:]
	switch {
	case base == ".DS_Store":
		return resOmitted
	case rel == "Info.plist" || rel == "PkgInfo":
		return resOmitted
	}
	return classify1(rel)
}

// classify1 applies the legacy rules, which keep Info.plist.
func classify1(rel string) resourceKind {
	switch {
	case strings.Contains(rel, ".lproj/") && strings.HasSuffix(rel, ".lproj/locversion.plist"):
		return resOmitted
	case strings.HasPrefix(rel, "Base.lproj/"):
		return resSealed
	case strings.Contains(rel, ".lproj/"):
		return resOptional
	}
	return resSealed
}

func rule(weight float64, omit, optional bool) map[string]any {
	r := map[string]any{"weight": weight}
	if omit {
		r["omit"] = true
	}
	if optional {
		r["optional"] = true
	}
	return r
}

// resourceRules are the iOS rules Xcode writes; classify1 and classify2
// implement them.
func resourceRules() (rules, rules2 map[string]any) {
	rules = map[string]any{
		"^.*":                          true,
		`^.*\.lproj/`:                  rule(1000, false, true),
		`^.*\.lproj/locversion.plist$`: rule(1100, true, false),
		`^Base\.lproj/`:                rule(1010, false, false),
		`^version.plist$`:              true,
	}
	rules2 = map[string]any{
		`.*\.dSYM($|/)`:                rule(11, false, false),
		`^(.*/)?\.DS_Store$`:           rule(2000, true, false),
		"^.*":                          true,
		`^.*\.lproj/`:                  rule(1000, false, true),
		`^.*\.lproj/locversion.plist$`: rule(1100, true, false),
		`^Base\.lproj/`:                rule(1010, false, false),
		`^Info\.plist$`:                rule(20, true, false),
		`^PkgInfo$`:                    rule(20, true, false),
		`^embedded\.provisionprofile$`: rule(20, false, false),
		`^version\.plist$`:             rule(20, false, false),
	}
	return rules, rules2
}

// resourceInput is what sealing one bundle needs to know about its files.
type resourceInput struct {
	files    map[string]fileHash   // bundle-relative regular files (incl. nested bundles' files)
	symlinks map[string]string     // bundle-relative symlink -> target
	nested   map[string]nestedSeal // bundle-relative nested code (bundle dirs and dylibs)
	exe      string                // bundle-relative main executable, excluded
}

// excluded reports paths a bundle never seals: its own executable and
// signature directory.
func (in *resourceInput) excluded(rel string) bool {
	return rel == in.exe || strings.HasPrefix(rel, "_CodeSignature/")
}

// insideNested reports whether rel lies in a nested bundle directory.
func (in *resourceInput) insideNested(rel string) bool {
	for n := range in.nested {
		if strings.HasPrefix(rel, n+"/") {
			return true
		}
	}
	return false
}

// buildCodeResources returns the XML CodeResources for a bundle.
func buildCodeResources(in *resourceInput) ([]byte, error) {
	files := map[string]any{}
	files2 := map[string]any{}
	for rel, h := range in.files {
		if in.excluded(rel) {
			continue
		}
		if k := classify1(rel); k != resOmitted {
			if k == resOptional {
				files[rel] = map[string]any{"hash": h.sha1, "optional": true}
			} else {
				files[rel] = h.sha1
			}
		}
		if _, isNested := in.nested[rel]; isNested || in.insideNested(rel) {
			continue
		}
		if k := classify2(rel); k != resOmitted {
			e := map[string]any{"hash": h.sha1, "hash2": h.sha256}
			if k == resOptional {
				e["optional"] = true
			}
			files2[rel] = e
		}
	}
	for rel, target := range in.symlinks {
		if in.excluded(rel) || in.insideNested(rel) || classify2(rel) == resOmitted {
			continue
		}
		files2[rel] = map[string]any{"symlink": target}
	}
	for rel, n := range in.nested {
		files2[rel] = map[string]any{"cdhash": n.cdhash, "requirement": n.requirement}
	}
	rules, rules2 := resourceRules()
	doc := map[string]any{"files": files, "files2": files2, "rules": rules, "rules2": rules2}
	b, err := plist.MarshalIndent(doc, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("ipa: encode CodeResources: %w", err)
	}
	return b, nil
}

// codeResources is the parsed part of CodeResources the verifier checks.
type codeResources struct {
	Files2 map[string]struct {
		Hash        []byte `plist:"hash"`
		Hash2       []byte `plist:"hash2"`
		Symlink     string `plist:"symlink"`
		CDHash      []byte `plist:"cdhash"`
		Requirement string `plist:"requirement"`
		Optional    bool   `plist:"optional"`
	} `plist:"files2"`
}

// ParseCodeResources decodes _CodeSignature/CodeResources far enough to
// verify files2; exported for the fuzz target and for callers that report
// sealed files.
func ParseCodeResources(b []byte) (map[string]string, error) {
	cr, err := parseCodeResources(b)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cr.Files2))
	for k, v := range cr.Files2 {
		switch {
		case v.CDHash != nil:
			out[k] = "nested"
		case v.Symlink != "":
			out[k] = "symlink"
		default:
			out[k] = "file"
		}
	}
	return out, nil
}

func parseCodeResources(b []byte) (*codeResources, error) {
	var cr codeResources
	if _, err := plist.Unmarshal(b, &cr); err != nil {
		return nil, fmt.Errorf("%w: CodeResources: %w", ErrFormat, err)
	}
	return &cr, nil
}

// checkCodeResources recomputes every files2 entry against in and reports
// the first difference, including files that are present but not sealed.
func checkCodeResources(b []byte, in *resourceInput) error {
	cr, err := parseCodeResources(b)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for rel, h := range in.files {
		if in.excluded(rel) || in.insideNested(rel) || classify2(rel) == resOmitted {
			continue
		}
		if _, isNested := in.nested[rel]; isNested {
			continue
		}
		want[rel] = true
		e, ok := cr.Files2[rel]
		if !ok {
			return fmt.Errorf("%w: %s is not sealed in CodeResources", ErrVerify, rel)
		}
		if !bytes.Equal(e.Hash2, h.sha256) || (e.Hash != nil && !bytes.Equal(e.Hash, h.sha1)) {
			return fmt.Errorf("%w: %s does not match its CodeResources hash", ErrVerify, rel)
		}
	}
	for rel, target := range in.symlinks {
		if in.excluded(rel) || in.insideNested(rel) || classify2(rel) == resOmitted {
			continue
		}
		want[rel] = true
		if e, ok := cr.Files2[rel]; !ok || e.Symlink != target {
			return fmt.Errorf("%w: symlink %s does not match CodeResources", ErrVerify, rel)
		}
	}
	for rel, n := range in.nested {
		want[rel] = true
		e, ok := cr.Files2[rel]
		if !ok || !bytes.Equal(e.CDHash, n.cdhash) {
			return fmt.Errorf("%w: nested code %s does not match its CodeResources cdhash", ErrVerify, rel)
		}
	}
	extra := []string{}
	for rel, e := range cr.Files2 {
		if !want[rel] && !e.Optional {
			extra = append(extra, rel)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("%w: CodeResources seals %s, which is missing", ErrVerify, extra[0])
	}
	return nil
}
