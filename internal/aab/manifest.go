package aab

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of aapt2's Resources.proto messages the manifest edit
// touches (package aapt.pb). Every other field is copied as raw bytes.
const (
	nodeElement    = 1 // XmlNode.element
	elemAttribute  = 4 // XmlElement.attribute
	elemName       = 3 // XmlElement.name
	attrNamespace  = 1 // XmlAttribute.namespace_uri
	attrName       = 2 // XmlAttribute.name
	attrValue      = 3 // XmlAttribute.value
	attrResourceID = 5 // XmlAttribute.resource_id
	attrCompiled   = 6 // XmlAttribute.compiled_item
	itemStr        = 2 // Item.str
	itemPrim       = 7 // Item.prim
	strValue       = 1 // String.value
	primIntDecimal = 6 // Primitive.int_decimal_value (proto3 layout)
	primIntHex     = 7 // Primitive.int_hexadecimal_value
	primLegacyData = 2 // Primitive.data (old proto2 layout)
	androidNS      = "http://schemas.android.com/apk/res/android"
	resVersionCode = 0x0101021b
	resVersionName = 0x0101021c
	resMinSdk      = 0x0101020c
	resTargetSdk   = 0x01010270
)

// ErrFormat is matched by every malformed-manifest error.
var ErrFormat = errors.New("aab: malformed protobuf manifest")

func formatErr(msg string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(msg, args...))
}

// field is one raw protobuf field.
type field struct {
	num  protowire.Number
	typ  protowire.Type
	raw  []byte // the whole field, tag included
	data []byte // the payload of a bytes field
	v    uint64 // the value of a varint field
}

func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, formatErr("bad tag: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, formatErr("field %d: %v", num, protowire.ParseError(m))
		}
		f := field{num: num, typ: typ, raw: b[:n+m]}
		switch typ {
		case protowire.BytesType:
			f.data, _ = protowire.ConsumeBytes(b[n:])
		case protowire.VarintType:
			f.v, _ = protowire.ConsumeVarint(b[n:])
		}
		out = append(out, f)
		b = b[n+m:]
	}
	return out, nil
}

// attribute is a parsed XmlAttribute with its raw fields.
type attribute struct {
	fields []field
	ns     string
	name   string
	value  string
	resID  uint64
	item   []byte
}

func parseAttr(b []byte) (attribute, error) {
	fs, err := fields(b)
	if err != nil {
		return attribute{}, err
	}
	a := attribute{fields: fs}
	for _, f := range fs {
		switch {
		case f.num == attrNamespace && f.typ == protowire.BytesType:
			a.ns = string(f.data)
		case f.num == attrName && f.typ == protowire.BytesType:
			a.name = string(f.data)
		case f.num == attrValue && f.typ == protowire.BytesType:
			a.value = string(f.data)
		case f.num == attrResourceID && f.typ == protowire.VarintType:
			a.resID = f.v
		case f.num == attrCompiled && f.typ == protowire.BytesType:
			a.item = f.data
		}
	}
	return a, nil
}

// is reports whether the attribute is android:<name> with resource id.
func (a attribute) is(id uint64, name string) bool {
	return a.resID == id || (a.resID == 0 && a.ns == androidNS && a.name == name)
}

// intValue reads an integer attribute from its compiled item, falling
// back to the text value.
func (a attribute) intValue() (int64, bool) {
	if fs, err := fields(a.item); err == nil {
		for _, f := range fs {
			if f.num != itemPrim || f.typ != protowire.BytesType {
				continue
			}
			pfs, err := fields(f.data)
			if err != nil {
				break
			}
			for _, p := range pfs {
				if p.typ == protowire.VarintType && (p.num == primIntDecimal || p.num == primIntHex || p.num == primLegacyData) {
					return int64(int32(uint32(p.v))), true
				}
			}
		}
	}
	n, err := strconv.ParseInt(a.value, 0, 64)
	return n, err == nil
}

// Manifest holds what a module's manifest says about versions.
type Manifest struct {
	Package     string `json:"package,omitempty"`      // Package is set on the base module.
	VersionCode *int64 `json:"version_code,omitempty"` // VersionCode is nil when absent (asset packs).
	VersionName string `json:"version_name,omitempty"` // VersionName is empty when absent.
	MinSdk      int    `json:"min_sdk,omitempty"`      // MinSdk is from uses-sdk, 0 when absent.
	TargetSdk   int    `json:"target_sdk,omitempty"`   // TargetSdk is from uses-sdk, 0 when absent.
}

// manifestDoc is a parsed XmlNode whose root is <manifest>.
type manifestDoc struct {
	root  []field // XmlNode fields
	elem  []field // <manifest> XmlElement fields
	attrs map[int]attribute
}

func parseManifest(b []byte) (*manifestDoc, error) {
	root, err := fields(b)
	if err != nil {
		return nil, err
	}
	d := &manifestDoc{root: root, attrs: map[int]attribute{}}
	found := false
	for _, f := range root {
		if f.num == nodeElement && f.typ == protowire.BytesType {
			if found {
				return nil, formatErr("two root elements")
			}
			found = true
			if d.elem, err = fields(f.data); err != nil {
				return nil, err
			}
		}
	}
	if !found {
		return nil, formatErr("no root element")
	}
	name := ""
	for i, f := range d.elem {
		switch {
		case f.num == elemName && f.typ == protowire.BytesType:
			name = string(f.data)
		case f.num == elemAttribute && f.typ == protowire.BytesType:
			a, err := parseAttr(f.data)
			if err != nil {
				return nil, err
			}
			d.attrs[i] = a
		}
	}
	if name != "manifest" {
		return nil, formatErr("root element is %q, not manifest", name)
	}
	return d, nil
}

func (d *manifestDoc) info() Manifest {
	var m Manifest
	for _, a := range d.attrs {
		switch {
		case a.is(resVersionCode, "versionCode"):
			if v, ok := a.intValue(); ok {
				m.VersionCode = &v
			}
		case a.is(resVersionName, "versionName"):
			m.VersionName = a.value
		case a.resID == 0 && a.ns == "" && a.name == "package":
			m.Package = a.value
		}
	}
	// uses-sdk is a child element (XmlElement.child = 5, XmlNode.element).
	for _, f := range d.elem {
		if f.num != 5 || f.typ != protowire.BytesType {
			continue
		}
		node, err := fields(f.data)
		if err != nil {
			continue
		}
		for _, nf := range node {
			if nf.num != nodeElement || nf.typ != protowire.BytesType {
				continue
			}
			el, err := fields(nf.data)
			if err != nil {
				continue
			}
			isSdk := false
			var attrs []attribute
			for _, ef := range el {
				if ef.num == elemName && string(ef.data) == "uses-sdk" {
					isSdk = true
				}
				if ef.num == elemAttribute && ef.typ == protowire.BytesType {
					if a, err := parseAttr(ef.data); err == nil {
						attrs = append(attrs, a)
					}
				}
			}
			if !isSdk {
				continue
			}
			for _, a := range attrs {
				v, ok := a.intValue()
				switch {
				case !ok:
				case a.is(resMinSdk, "minSdkVersion"):
					m.MinSdk = int(v)
				case a.is(resTargetSdk, "targetSdkVersion"):
					m.TargetSdk = int(v)
				}
			}
		}
	}
	return m
}

// rewrite sets versionCode and, when name is set, versionName where the
// module has one (insertName adds it where it is missing: the base
// module), replacing only the value and compiled_item fields of those
// attributes; every other byte is copied.
func (d *manifestDoc) rewrite(code int64, name *string, insertName bool) []byte {
	var elem []byte
	hasName := false
	for i, f := range d.elem {
		a, ok := d.attrs[i]
		switch {
		case ok && a.is(resVersionCode, "versionCode"):
			item := protowire.AppendTag(nil, itemPrim, protowire.BytesType)
			prim := protowire.AppendTag(nil, primIntDecimal, protowire.VarintType)
			prim = protowire.AppendVarint(prim, uint64(uint32(int32(code))))
			item = protowire.AppendBytes(item, prim)
			elem = appendAttr(elem, a, strconv.FormatInt(code, 10), item)
		case ok && name != nil && a.is(resVersionName, "versionName"):
			hasName = true
			elem = appendAttr(elem, a, *name, stringItem(*name))
		default:
			elem = append(elem, f.raw...)
		}
	}
	if name != nil && !hasName && insertName {
		// bundletool's own attribute shape: namespace, name, value,
		// resource id, compiled string.
		var a []byte
		a = protowire.AppendTag(a, attrNamespace, protowire.BytesType)
		a = protowire.AppendString(a, androidNS)
		a = protowire.AppendTag(a, attrName, protowire.BytesType)
		a = protowire.AppendString(a, "versionName")
		a = protowire.AppendTag(a, attrValue, protowire.BytesType)
		a = protowire.AppendString(a, *name)
		a = protowire.AppendTag(a, attrResourceID, protowire.VarintType)
		a = protowire.AppendVarint(a, resVersionName)
		a = protowire.AppendTag(a, attrCompiled, protowire.BytesType)
		a = protowire.AppendBytes(a, stringItem(*name))
		elem = protowire.AppendTag(elem, elemAttribute, protowire.BytesType)
		elem = protowire.AppendBytes(elem, a)
	}
	var out []byte
	for _, f := range d.root {
		if f.num == nodeElement && f.typ == protowire.BytesType {
			out = protowire.AppendTag(out, nodeElement, protowire.BytesType)
			out = protowire.AppendBytes(out, elem)
			continue
		}
		out = append(out, f.raw...)
	}
	return out
}

func stringItem(s string) []byte {
	str := protowire.AppendTag(nil, strValue, protowire.BytesType)
	str = protowire.AppendString(str, s)
	item := protowire.AppendTag(nil, itemStr, protowire.BytesType)
	return protowire.AppendBytes(item, str)
}

// appendAttr re-encodes attribute a with a new value and compiled item,
// keeping its other fields and their order.
func appendAttr(dst []byte, a attribute, value string, item []byte) []byte {
	var b []byte
	seenValue, seenItem := false, false
	for _, f := range a.fields {
		switch {
		case f.num == attrValue && f.typ == protowire.BytesType:
			seenValue = true
			b = protowire.AppendTag(b, attrValue, protowire.BytesType)
			b = protowire.AppendString(b, value)
		case f.num == attrCompiled && f.typ == protowire.BytesType:
			seenItem = true
			b = protowire.AppendTag(b, attrCompiled, protowire.BytesType)
			b = protowire.AppendBytes(b, item)
		default:
			b = append(b, f.raw...)
		}
	}
	if !seenValue {
		b = protowire.AppendTag(b, attrValue, protowire.BytesType)
		b = protowire.AppendString(b, value)
	}
	if !seenItem {
		b = protowire.AppendTag(b, attrCompiled, protowire.BytesType)
		b = protowire.AppendBytes(b, item)
	}
	dst = protowire.AppendTag(dst, elemAttribute, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}
