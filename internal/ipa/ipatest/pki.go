package ipatest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/ipa/devpki"
)

// PKI is the local CA of devpki with helpers that fail a test on error.
type PKI struct{ *devpki.PKI }

// Identity is a devpki distribution identity with test helpers.
type Identity struct{ *devpki.Identity }

// ProfileSpec describes a provisioning profile to generate.
type ProfileSpec = devpki.ProfileSpec

// GeneratePKI makes a CA valid from two days ago for ten years.
func GeneratePKI() (*PKI, error) {
	p, err := devpki.GeneratePKI()
	if err != nil {
		return nil, err
	}
	return &PKI{p}, nil
}

// NewPKI is GeneratePKI for tests.
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	p, err := GeneratePKI()
	require.NoError(tb, err)
	return p
}

// IssueIdentity makes a key (P-256 when ec, else RSA 2048) and a
// code-signing certificate for team, valid from a day ago until notAfter.
func (p *PKI) IssueIdentity(team string, ec bool, notAfter time.Time) (*Identity, error) {
	id, err := p.PKI.IssueIdentity(team, ec, notAfter)
	if err != nil {
		return nil, err
	}
	return &Identity{id}, nil
}

// Issue is IssueIdentity for tests.
func (p *PKI) Issue(tb testing.TB, team string, ec bool, notAfter time.Time) *Identity {
	tb.Helper()
	id, err := p.IssueIdentity(team, ec, notAfter)
	require.NoError(tb, err)
	return id
}

// P12 is EncodeP12 for tests.
func (id *Identity) P12(tb testing.TB, password string) []byte {
	tb.Helper()
	b, err := id.EncodeP12(password)
	require.NoError(tb, err)
	return b
}

// Profile is BuildProfile for tests.
func (p *PKI) Profile(tb testing.TB, s ProfileSpec) []byte {
	tb.Helper()
	b, err := p.BuildProfile(s)
	require.NoError(tb, err)
	return b
}
