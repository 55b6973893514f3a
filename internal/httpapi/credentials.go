package httpapi

import (
	"net/http"
	"time"

	"github.com/ripcordhq/ripcord/internal/credentials"
)

// credentialPut stores one credential from a JSON body whose file fields
// are base64 (JSON's encoding of bytes). JSON rather than multipart: the
// files are a few kilobytes, every other endpoint speaks JSON, and the
// body limit (http.max_body_bytes) applies as it does elsewhere.
func (h *handler) credentialPut(w http.ResponseWriter, r *http.Request) {
	var req CredentialPutRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	app := r.PathValue("app")
	c, err := h.credentials.Put(r.Context(), app, r.PathValue("kind"), req.material())
	req.wipe()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewCredential(c, h.limiter.now()))
}

func (h *handler) credentialList(w http.ResponseWriter, r *http.Request) {
	cs, err := h.credentials.List(r.Context(), r.PathValue("app"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.limiter.now()
	writeJSON(w, http.StatusOK, List[Credential]{Items: mapSlice(cs, func(c *credentials.Credential) Credential { return NewCredential(c, now) })})
}

func (h *handler) credentialDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := h.credentials.Delete(r.Context(), r.PathValue("app"), r.PathValue("kind")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CredentialPutRequest carries one credential's material; only the fields
// of the path's kind may be set. Files are base64.
type CredentialPutRequest struct {
	ASCKey           []byte `json:"asc_key,omitempty"`           // asc_api_key: the .p8 file
	ASCKeyID         string `json:"asc_key_id,omitempty"`        // asc_api_key
	ASCIssuerID      string `json:"asc_issuer_id,omitempty"`     // asc_api_key
	ServiceAccount   []byte `json:"service_account,omitempty"`   // play_service_account: the JSON key file
	Keystore         []byte `json:"keystore,omitempty"`          // android_keystore: JKS or PKCS#12
	KeystorePassword string `json:"keystore_password,omitempty"` // android_keystore
	KeyAlias         string `json:"key_alias,omitempty"`         // android_keystore
	KeyPassword      string `json:"key_password,omitempty"`      // android_keystore
	Key              []byte `json:"key,omitempty"`               // android_keystore: PKCS#8 key, instead of a keystore
	Cert             []byte `json:"cert,omitempty"`              // android_keystore: its certificate chain
	Identity         []byte `json:"identity,omitempty"`          // ios_identity: the .p12 file
	IdentityPassword string `json:"identity_password,omitempty"` // ios_identity
	Profile          []byte `json:"profile,omitempty"`           // ios_profile: the .mobileprovision file
}

func (r *CredentialPutRequest) material() credentials.Material {
	return credentials.Material{
		ASCKey: r.ASCKey, ASCKeyID: r.ASCKeyID, ASCIssuerID: r.ASCIssuerID, ServiceAccount: r.ServiceAccount,
		Keystore: r.Keystore, KeystorePassword: r.KeystorePassword, KeyAlias: r.KeyAlias, KeyPassword: r.KeyPassword,
		Key: r.Key, Cert: r.Cert, Identity: r.Identity, IdentityPassword: r.IdentityPassword, Profile: r.Profile,
	}
}

// wipe zeroes the request's key bytes once they are sealed, so they do
// not linger in memory until collected.
func (r *CredentialPutRequest) wipe() {
	for _, b := range [][]byte{r.ASCKey, r.ServiceAccount, r.Keystore, r.Key, r.Identity} {
		clear(b)
	}
}

// Credential is a stored credential on the wire: what it is and non-secret
// facts about it, never the material.
type Credential struct {
	App       string            `json:"app"`
	Kind      string            `json:"kind"`
	Metadata  map[string]string `json:"metadata"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	// DaysLeft is whole days until expiry, negative once expired; absent
	// when the material does not expire.
	DaysLeft *int `json:"days_left,omitempty"`
	// Expiry is "ok", "expiring" (within 30 days) or "expired"; absent
	// when the material does not expire.
	Expiry    string    `json:"expiry,omitempty"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewCredential converts a credential to the wire, with its expiry as of now.
func NewCredential(c *credentials.Credential, now time.Time) Credential {
	out := Credential{App: c.App, Kind: c.Kind, Metadata: c.Metadata, CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt, Expiry: c.Expiry(now)}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if !c.ExpiresAt.IsZero() {
		t, d := c.ExpiresAt, c.DaysLeft(now)
		out.ExpiresAt, out.DaysLeft = &t, &d
	}
	return out
}
