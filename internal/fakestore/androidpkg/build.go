package androidpkg

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf16"

	"google.golang.org/protobuf/encoding/protowire"
)

const androidNS = "http://schemas.android.com/apk/res/android"

// BuildAPK returns a minimal unsigned APK whose binary manifest carries m.
// It exists so tests and the demo can upload to the fake without a toolchain;
// real stores would refuse it for lacking code and a signature.
func BuildAPK(m Manifest) ([]byte, error) {
	return zipOf(map[string][]byte{
		APKManifestPath: BinaryXML(m),
		"classes.dex":   []byte("dex\n035\x00"),
	}, 0)
}

// BuildAAB returns a minimal unsigned AAB whose base manifest carries m.
func BuildAAB(m Manifest) ([]byte, error) {
	return BuildPaddedAAB(m, 0)
}

// PaddingPath is the stored (uncompressed) asset BuildPaddedAAB adds.
const PaddingPath = "base/assets/padding.bin"

// BuildPaddedAAB returns BuildAAB's bundle with an extra stored asset of
// padding bytes, so tests can exercise uploads of realistic sizes (a bundle
// over 16 MiB makes Google's client switch to resumable uploads) without a
// toolchain. The padding is a fixed pattern: the output is deterministic.
func BuildPaddedAAB(m Manifest, padding int) ([]byte, error) {
	if padding < 0 {
		return nil, fmt.Errorf("androidpkg: padding %d must be >= 0", padding)
	}
	return zipOf(map[string][]byte{
		AABManifestPath:        ProtoXML(m),
		"BundleConfig.pb":      {},
		"base/dex/classes.dex": []byte("dex\n035\x00"),
	}, padding)
}

// zipOf zips files in a fixed order, after a stored padding entry of
// padding bytes when padding > 0.
func zipOf(files map[string][]byte, padding int) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if padding > 0 {
		buf.Grow(padding + 4096)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: PaddingPath, Method: zip.Store})
		if err != nil {
			return nil, fmt.Errorf("androidpkg: zip %s: %w", PaddingPath, err)
		}
		block := make([]byte, 64<<10)
		for i := range block {
			block[i] = byte(i*7 + i>>8)
		}
		for left := padding; left > 0; left -= len(block) {
			if _, err := w.Write(block[:min(left, len(block))]); err != nil {
				return nil, fmt.Errorf("androidpkg: zip %s: %w", PaddingPath, err)
			}
		}
	}
	// Fixed order keeps the output byte-identical between runs.
	for _, name := range []string{APKManifestPath, AABManifestPath, "BundleConfig.pb", "classes.dex", "base/dex/classes.dex"} {
		data, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			return nil, fmt.Errorf("androidpkg: zip %s: %w", name, err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("androidpkg: zip %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("androidpkg: close zip: %w", err)
	}
	return buf.Bytes(), nil
}

// BinaryXML encodes <manifest package versionCode versionName/> as AXML with a
// UTF-16 string pool and a resource map, as aapt2 writes it.
func BinaryXML(m Manifest) []byte {
	// Attribute names that have resource ids come first, matching the map.
	strs := []string{"versionCode", "versionName", "android", androidNS, "manifest", "package", m.Package, m.VersionName}
	const (
		sVersionCode = iota
		sVersionName
		sAndroid
		sNS
		sManifest
		sPackage
		sPkgValue
		sNameValue
	)
	le := binary.LittleEndian
	// String pool.
	var data []byte
	offs := make([]uint32, len(strs))
	for i, s := range strs {
		offs[i] = uint32(len(data))
		u := utf16.Encode([]rune(s))
		data = le.AppendUint16(data, uint16(len(u)))
		for _, c := range u {
			data = le.AppendUint16(data, c)
		}
		data = le.AppendUint16(data, 0)
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	poolHdr := 28
	start := poolHdr + 4*len(strs)
	pool := le.AppendUint16(nil, chunkStringPool)
	pool = le.AppendUint16(pool, uint16(poolHdr))
	pool = le.AppendUint32(pool, uint32(start+len(data)))
	pool = le.AppendUint32(pool, uint32(len(strs)))
	pool = le.AppendUint32(pool, 0)
	pool = le.AppendUint32(pool, 0)
	pool = le.AppendUint32(pool, uint32(start))
	pool = le.AppendUint32(pool, 0)
	for _, o := range offs {
		pool = le.AppendUint32(pool, o)
	}
	pool = append(pool, data...)
	// Resource map.
	rmap := le.AppendUint16(nil, chunkResourceMap)
	rmap = le.AppendUint16(rmap, 8)
	rmap = le.AppendUint32(rmap, 16)
	rmap = le.AppendUint32(rmap, resVersionCode)
	rmap = le.AppendUint32(rmap, resVersionName)
	// Start namespace.
	nsChunk := func(typ uint16) []byte {
		c := le.AppendUint16(nil, typ)
		c = le.AppendUint16(c, 16)
		c = le.AppendUint32(c, 24)
		c = le.AppendUint32(c, 1)
		c = le.AppendUint32(c, noIndex)
		c = le.AppendUint32(c, sAndroid)
		return le.AppendUint32(c, sNS)
	}
	attr := func(ns, name, raw uint32, typ byte, val uint32) []byte {
		a := le.AppendUint32(nil, ns)
		a = le.AppendUint32(a, name)
		a = le.AppendUint32(a, raw)
		a = le.AppendUint16(a, 8)
		a = append(a, 0, typ)
		return le.AppendUint32(a, val)
	}
	attrs := [][]byte{
		attr(sNS, sVersionCode, noIndex, typeIntDec, uint32(m.VersionCode)),
		attr(sNS, sVersionName, sNameValue, typeString, sNameValue),
		attr(noIndex, sPackage, sPkgValue, typeString, sPkgValue),
	}
	el := le.AppendUint16(nil, chunkStartElement)
	el = le.AppendUint16(el, 16)
	el = le.AppendUint32(el, uint32(36+20*len(attrs)))
	el = le.AppendUint32(el, 1)
	el = le.AppendUint32(el, noIndex)
	el = le.AppendUint32(el, noIndex)
	el = le.AppendUint32(el, sManifest)
	el = le.AppendUint16(el, 20)
	el = le.AppendUint16(el, 20)
	el = le.AppendUint16(el, uint16(len(attrs)))
	el = le.AppendUint16(el, 0)
	el = le.AppendUint16(el, 0)
	el = le.AppendUint16(el, 0)
	for _, a := range attrs {
		el = append(el, a...)
	}
	end := le.AppendUint16(nil, 0x0103)
	end = le.AppendUint16(end, 16)
	end = le.AppendUint32(end, 24)
	end = le.AppendUint32(end, 1)
	end = le.AppendUint32(end, noIndex)
	end = le.AppendUint32(end, noIndex)
	end = le.AppendUint32(end, sManifest)
	body := bytes.Join([][]byte{pool, rmap, nsChunk(0x0100), el, end, nsChunk(0x0101)}, nil)
	out := le.AppendUint16(nil, chunkXML)
	out = le.AppendUint16(out, 8)
	out = le.AppendUint32(out, uint32(8+len(body)))
	return append(out, body...)
}

// ProtoXML encodes <manifest package versionCode versionName/> as an aapt2
// XmlNode, as bundletool stores it in an AAB.
func ProtoXML(m Manifest) []byte {
	attr := func(ns, name, value string, resID uint64, intVal *int64) []byte {
		var a []byte
		if ns != "" {
			a = protowire.AppendTag(a, xmlAttrNamespace, protowire.BytesType)
			a = protowire.AppendString(a, ns)
		}
		a = protowire.AppendTag(a, xmlAttrName, protowire.BytesType)
		a = protowire.AppendString(a, name)
		a = protowire.AppendTag(a, xmlAttrValue, protowire.BytesType)
		a = protowire.AppendString(a, value)
		if resID != 0 {
			a = protowire.AppendTag(a, xmlAttrResourceID, protowire.VarintType)
			a = protowire.AppendVarint(a, resID)
		}
		if intVal != nil {
			var prim []byte
			prim = protowire.AppendTag(prim, primIntDecimal, protowire.VarintType)
			prim = protowire.AppendVarint(prim, uint64(*intVal))
			var item []byte
			item = protowire.AppendTag(item, itemPrim, protowire.BytesType)
			item = protowire.AppendBytes(item, prim)
			a = protowire.AppendTag(a, xmlAttrCompiledItem, protowire.BytesType)
			a = protowire.AppendBytes(a, item)
		}
		return a
	}
	code := m.VersionCode
	var el []byte
	el = protowire.AppendTag(el, xmlElementName, protowire.BytesType)
	el = protowire.AppendString(el, "manifest")
	for _, a := range [][]byte{
		attr(androidNS, "versionCode", strconv.FormatInt(code, 10), resVersionCode, &code),
		attr(androidNS, "versionName", m.VersionName, resVersionName, nil),
		attr("", "package", m.Package, 0, nil),
	} {
		el = protowire.AppendTag(el, xmlElementAttribute, protowire.BytesType)
		el = protowire.AppendBytes(el, a)
	}
	var node []byte
	node = protowire.AppendTag(node, xmlNodeElement, protowire.BytesType)
	return protowire.AppendBytes(node, el)
}
