package androidpkg

import (
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of aapt2's Resources.proto (XmlNode, XmlElement, XmlAttribute,
// Item, Primitive) — the format bundletool keeps manifests in.
const (
	xmlNodeElement      = 1
	xmlElementName      = 3
	xmlElementAttribute = 4
	xmlAttrNamespace    = 1
	xmlAttrName         = 2
	xmlAttrValue        = 3
	xmlAttrResourceID   = 5
	xmlAttrCompiledItem = 6
	itemPrim            = 7
	primIntDecimal      = 6
	primIntHex          = 7
)

type protoAttr struct {
	name, value string
	resID       uint64
	intVal      int64
	hasInt      bool
}

// ParseProtoXML reads package, versionCode and versionName from an AAB's
// protobuf AndroidManifest.xml.
func ParseProtoXML(b []byte) (*Manifest, error) {
	var elem []byte
	err := fields(b, 0, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num == xmlNodeElement {
			elem = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if elem == nil {
		return nil, &FormatError{Msg: "no root element"}
	}
	var name string
	var attrs []protoAttr
	err = fields(elem, 0, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case xmlElementName:
			name = string(v)
		case xmlElementAttribute:
			a, err := parseProtoAttr(v)
			if err != nil {
				return err
			}
			attrs = append(attrs, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if name != "manifest" {
		return nil, &FormatError{Msg: "root element is not manifest", Val: name}
	}
	m := &Manifest{}
	var haveCode bool
	for _, a := range attrs {
		switch {
		case a.name == "package":
			m.Package = a.value
		case a.name == "versionCode" || a.resID == resVersionCode:
			switch {
			case a.value != "":
				v, err := parseIntAttr(a.value)
				if err != nil {
					return nil, &FormatError{Msg: "versionCode is not an integer", Val: a.value}
				}
				m.VersionCode = v
			case a.hasInt:
				m.VersionCode = a.intVal
			default:
				return nil, &FormatError{Msg: "versionCode has no value"}
			}
			haveCode = true
		case a.name == "versionName" || a.resID == resVersionName:
			m.VersionName = a.value
		}
	}
	if m.Package == "" {
		return nil, &FormatError{Msg: "manifest has no package"}
	}
	if !haveCode {
		return nil, &FormatError{Msg: "manifest has no versionCode"}
	}
	if err := checkVersionCode(m.VersionCode, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// parseIntAttr reads an integer attribute as aapt2 writes it: decimal, or
// hexadecimal with 0x. (strconv's base 0 would also take octal, binary and
// underscores, which Android does not.)
func parseIntAttr(s string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 32)
		return int64(int32(uint32(v))), err
	}
	return strconv.ParseInt(s, 10, 32)
}

// checkVersionCode refuses versionCodes Android does not allow: the value is
// a positive 32-bit integer.
func checkVersionCode(v, off int64) error {
	if v < 1 || v > math.MaxInt32 {
		return &FormatError{Offset: off, Msg: "versionCode must be a positive 32-bit integer", Val: v}
	}
	return nil
}

func parseProtoAttr(b []byte) (protoAttr, error) {
	var a protoAttr
	err := fields(b, 0, func(num protowire.Number, _ protowire.Type, v []byte, u uint64) error {
		switch num {
		case xmlAttrName:
			a.name = string(v)
		case xmlAttrValue:
			a.value = string(v)
		case xmlAttrResourceID:
			a.resID = u
		case xmlAttrCompiledItem:
			return fields(v, 0, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
				if num != itemPrim {
					return nil
				}
				return fields(v, 0, func(num protowire.Number, _ protowire.Type, _ []byte, u uint64) error {
					if num == primIntDecimal || num == primIntHex {
						a.intVal, a.hasInt = int64(int32(uint32(u))), true
					}
					return nil
				})
			})
		}
		return nil
	})
	return a, err
}

// fields walks one protobuf message, calling fn with the bytes of each
// length-delimited field or the value of each varint field.
func fields(b []byte, base int64, fn func(protowire.Number, protowire.Type, []byte, uint64) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return &FormatError{Offset: base + int64(off), Msg: "bad protobuf tag"}
		}
		off += n
		var v []byte
		var u uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b[off:])
		case protowire.VarintType:
			u, n = protowire.ConsumeVarint(b[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return &FormatError{Offset: base + int64(off), Msg: "bad protobuf field", Val: int(num)}
		}
		off += n
		if err := fn(num, typ, v, u); err != nil {
			return err
		}
	}
	return nil
}
