package apkzip

import (
	"bytes"
	"compress/flate"
)

// DeflateBytes compresses an entry that Ripcord rewrites (a manifest, a
// signature file) at the best level: these entries are small, and every
// other entry keeps its original compressed bytes.
func DeflateBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
