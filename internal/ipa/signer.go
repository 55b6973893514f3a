package ipa

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/ripcordhq/ripcord/internal/macho"
)

// maxSignatureOutput caps what an external signer may print; a signature is
// at most a few hundred bytes.
const maxSignatureOutput = 64 << 10

// CommandSigner runs an external program once per signature: the DER signed
// attributes on stdin, RIPCORD_SIGN_ALG naming the algorithm
// (rsa-pkcs1-sha256 or ecdsa-p256-sha256), the raw signature on stdout. It
// lets keys stay in an HSM or a cloud KMS. command is split into words like
// a command line (quotes and backslashes) and run without a shell; for
// example "openssl dgst -sha256 -sign /keys/dist.pem" signs with a local
// key, in both algorithms.
func CommandSigner(command string, chain []*x509.Certificate) (*macho.CMSSigner, error) {
	words, err := SplitCommand(command)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("ipa: signer command is empty")
	}
	if len(chain) == 0 {
		return nil, errors.New("ipa: signer command needs the signing certificate chain (--signer-cert-chain)")
	}
	alg, err := macho.SignAlgorithm(chain[0])
	if err != nil {
		return nil, err
	}
	return &macho.CMSSigner{Chain: chain, SignAttrs: func(ctx context.Context, der []byte) ([]byte, error) {
		cmd := exec.CommandContext(ctx, words[0], words[1:]...)
		cmd.Stdin = bytes.NewReader(der)
		cmd.Env = append(os.Environ(), "RIPCORD_SIGN_ALG="+alg)
		var stdout, stderr limitedBuffer
		stdout.max, stderr.max = maxSignatureOutput, 4<<10
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("ipa: signer command %q: %w: %s", words[0], err, strings.TrimSpace(stderr.String()))
		}
		if stdout.over {
			return nil, fmt.Errorf("ipa: signer command %q printed more than %d bytes; it must print only the signature", words[0], maxSignatureOutput)
		}
		if stdout.Len() == 0 {
			return nil, fmt.Errorf("ipa: signer command %q printed no signature", words[0])
		}
		return stdout.Bytes(), nil
	}}, nil
}

type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// SplitCommand splits a command line into words as a POSIX shell would,
// without expanding anything: single quotes are literal, double quotes
// allow \" \\ \$ \` escapes, and a backslash outside quotes escapes the
// next character.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("ipa: signer command has an unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("ipa: signer command has an unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("ipa: signer command ends with a backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// LoadCertChain reads a certificate chain, leaf first, from PEM or DER, for
// use with CommandSigner.
func LoadCertChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ipa: certificate chain: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) > 0 {
		return chain, nil
	}
	chain, err := x509.ParseCertificates(data)
	if err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("ipa: certificate chain is neither PEM nor DER certificates: %v", err)
	}
	return chain, nil
}
