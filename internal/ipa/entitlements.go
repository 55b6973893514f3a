package ipa

import (
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// DER entitlement tags: the outer [APPLICATION 16] and dictionaries as
// [CONTEXT 16], both constructed.
const (
	tagEntitlementsDER cbasn1.Tag = 0x70 // [APPLICATION 16], constructed
	tagDERDict         cbasn1.Tag = 0xb0 // [CONTEXT 16], constructed
)

// EncodeEntitlementsDER encodes entitlements in the DER form iOS 15 and
// later read from special slot 7: [APPLICATION 16] { INTEGER 1, value },
// dictionaries as [CONTEXT 16] of SEQUENCE { UTF8String key, value } sorted
// by key, arrays as SEQUENCE, booleans, integers and strings as themselves.
// Data, dates and reals have no DER form and are an error.
func EncodeEntitlementsDER(ents map[string]any) ([]byte, error) {
	var b cryptobyte.Builder
	var encErr error
	b.AddASN1(tagEntitlementsDER, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		encErr = derValue(b, ents, 0)
	})
	if encErr != nil {
		return nil, encErr
	}
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ipa: encode DER entitlements: %w", err)
	}
	return out, nil
}

func derValue(b *cryptobyte.Builder, v any, depth int) error {
	if depth > 32 {
		return fmt.Errorf("ipa: entitlements nested more than 32 deep")
	}
	var err error
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.AddASN1(tagDERDict, func(b *cryptobyte.Builder) {
			for _, k := range keys {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(k)) })
					if e := derValue(b, x[k], depth+1); e != nil && err == nil {
						err = fmt.Errorf("%s: %w", k, e)
					}
				})
			}
		})
	case []any:
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, e := range x {
				if e2 := derValue(b, e, depth+1); e2 != nil && err == nil {
					err = e2
				}
			}
		})
	case string:
		b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(x)) })
	case bool:
		b.AddASN1Boolean(x)
	case uint64:
		b.AddASN1Uint64(x)
	case int64:
		b.AddASN1Int64(x)
	case int:
		b.AddASN1Int64(int64(x))
	default:
		return fmt.Errorf("ipa: entitlement value of type %T has no DER form", v)
	}
	return err
}
