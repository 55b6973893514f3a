package ipatest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// VerifyCMS is an outside oracle for signatures: for every slice of every
// executable under Payload/ it runs `openssl cms -verify` on the slice's
// CMS signature over its first CodeDirectory, chained to the CA in caFile.
// workDir receives the temporary files. It returns how many signatures
// openssl accepted, or the first refusal with openssl's output.
func VerifyCMS(openssl, ipaPath, caFile, workDir string) (int, error) {
	zr, err := zip.OpenReader(ipaPath)
	if err != nil {
		return 0, fmt.Errorf("ipatest: %w", err)
	}
	defer zr.Close()
	files := append([]*zip.File(nil), zr.File...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	n := 0
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "Payload/") || !f.Mode().IsRegular() || f.Mode().Perm()&0o100 == 0 {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return n, fmt.Errorf("ipatest: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return n, fmt.Errorf("ipatest: %s: %w", f.Name, err)
		}
		mf, err := macho.Parse(bytes.NewReader(b), int64(len(b)), macho.Limits{})
		if err != nil {
			return n, fmt.Errorf("ipatest: %s: %w", f.Name, err)
		}
		for _, s := range mf.Slices {
			if s.Signature == nil || len(s.Signature.CMS()) == 0 {
				return n, fmt.Errorf("ipatest: %s (%s) has no CMS signature", f.Name, s.Arch())
			}
			cdPath, sigPath := filepath.Join(workDir, "cd.bin"), filepath.Join(workDir, "sig.der")
			if err := os.WriteFile(cdPath, s.Signature.CodeDirectories[0].Raw, 0o600); err != nil {
				return n, fmt.Errorf("ipatest: %w", err)
			}
			if err := os.WriteFile(sigPath, s.Signature.CMS(), 0o600); err != nil {
				return n, fmt.Errorf("ipatest: %w", err)
			}
			out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath, "-content", cdPath, "-CAfile", caFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			if err != nil {
				return n, fmt.Errorf("ipatest: openssl cms -verify %s (%s): %w\n%s", f.Name, s.Arch(), err, out)
			}
			n++
		}
	}
	return n, nil
}
