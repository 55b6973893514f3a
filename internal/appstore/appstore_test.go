package appstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord/internal/appstore"
	"github.com/ripcordhq/ripcord/internal/fakestore"
	"github.com/ripcordhq/ripcord/internal/fakestore/speccheck"
)

// ascSpec is loaded once per test binary: the 3.7 document takes ~20 s.
var ascSpec speccheck.ASCOnce

type testBundle struct {
	fake *fakestore.Server
	rec  *speccheck.Recorder
	url  string
	dir  string

	mu     sync.Mutex
	sleeps []time.Duration
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	b := &testBundle{url: "http://" + ts.Listener.Addr().String(), rec: &speccheck.Recorder{}, dir: t.TempDir()}
	fake, err := fakestore.New(fakestore.Config{StateDir: b.dir, BaseURL: b.url, UploadPartSize: 8 << 10})
	require.NoError(t, err)
	// A frozen store clock: it moves only when a test or a wait advances it.
	require.NoError(t, fake.SetTime(t.Context(), time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	ts.Config.Handler = fake.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	b.fake = fake
	return b
}

func (b *testBundle) client(t *testing.T, mod func(*appstore.Config)) *appstore.Client {
	t.Helper()
	cr := b.fake.Credentials()
	cfg := appstore.Config{
		KeyID: cr.ASCKeyID, IssuerID: cr.ASCIssuerID, PrivateKeyPEM: cr.ASCPrivateKeyPEM,
		BaseURL: b.url, HTTPClient: &http.Client{Transport: b.rec, Timeout: 10 * time.Second}, MaxAttempts: 3,
		// Waits advance the fake store's clock instead of sleeping.
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.sleeps = append(b.sleeps, d)
			b.mu.Unlock()
			return b.fake.Advance(ctx, d)
		},
		Clock: b.fake.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := appstore.New(cfg)
	require.NoError(t, err)
	return c
}

func TestFindAppAndPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"com.example.a", "com.example.b", "com.example.c"} {
		_, err := b.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: id})
		require.NoError(t, err)
	}
	c := b.client(t, nil)
	app, err := c.FindApp(t.Context(), "com.example.b")
	require.NoError(t, err)
	require.Equal(t, "com.example.b", app.BundleID)
	require.NotEmpty(t, app.ID)

	_, err = c.FindApp(t.Context(), "com.example.missing")
	require.ErrorIs(t, err, appstore.ErrNotFound)

	apps, err := c.ListApps(t.Context())
	require.NoError(t, err)
	require.Len(t, apps, 3)

	tokens := map[string]bool{}
	for _, e := range b.rec.Exchanges() {
		tokens[e.ReqHeader.Get("Authorization")] = true
	}
	require.Len(t, tokens, 1, "one cached token for every call")

	seen := ascSpec.Get(t).Check(t, b.rec.Exchanges())
	require.Equal(t, 3, seen["apps_getCollection"])
}

func TestPaginationFollowsNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"a.one", "a.two", "a.three", "a.four", "a.five"} {
		_, err := b.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: id})
		require.NoError(t, err)
	}
	// A Recorder-fronted transport that forces limit=2 on the first page.
	c := b.client(t, func(cfg *appstore.Config) {
		cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Query().Get("cursor") == "" {
				q := r.URL.Query()
				q.Set("limit", "2")
				r.URL.RawQuery = q.Encode()
			}
			return b.rec.RoundTrip(r)
		})}
	})
	apps, err := c.ListApps(t.Context())
	require.NoError(t, err)
	require.Len(t, apps, 5)
	require.Len(t, b.rec.Exchanges(), 3, "three pages of at most two")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryRateLimitAndServerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fakestore.Fault
		waits []time.Duration
		err   error
	}{
		{"RateLimitedRetryAfter", fakestore.Fault{Op: "asc.apps.list", Kind: fakestore.FaultStatus, Status: 429, RetryAfterSeconds: 9, Count: 1}, []time.Duration{9 * time.Second}, nil},
		{"ServerErrorBackoff", fakestore.Fault{Op: "asc.apps.list", Kind: fakestore.FaultStatus, Status: 500, Count: 2}, []time.Duration{time.Second, 2 * time.Second}, nil},
		{"StormGivesUp", fakestore.Fault{Op: "asc.apps.list", Kind: fakestore.FaultStatus, Status: 503}, []time.Duration{time.Second, 2 * time.Second}, appstore.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.fake.CreateASCApp(fakestore.ASCAppSpec{BundleID: "com.x"})
			require.NoError(t, err)
			require.NoError(t, b.fake.AddFault(tt.fault))
			c := b.client(t, nil)
			app, err := c.FindApp(t.Context(), "com.x")
			if tt.err != nil {
				require.ErrorContains(t, err, "gave up after 3 attempts")
				var ae *appstore.Error
				require.ErrorAs(t, err, &ae)
				require.Equal(t, 503, ae.Status)
			} else {
				require.NoError(t, err)
				require.Equal(t, "com.x", app.BundleID)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			require.Equal(t, tt.waits, b.sleeps)
		})
	}
}

func TestRevokedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.fake.SetCredentialsRevoked(true))
	_, err := b.client(t, nil).FindApp(t.Context(), "com.x")
	require.ErrorIs(t, err, appstore.ErrAuth)
	var ae *appstore.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "NOT_AUTHORIZED", ae.Errors[0].Code)
	require.Len(t, b.rec.Exchanges(), 2, "one retry with a fresh token, then stop")
}

// TestAuthEnforced signs tokens by hand to hit each rule of the fake's check.
func TestAuthEnforced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cr := b.fake.Credentials()
	key, err := jwt.ParseECPrivateKeyFromPEM(cr.ASCPrivateKeyPEM)
	require.NoError(t, err)
	now := time.Now()
	sign := func(kid string, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": cr.ASCIssuerID, "aud": "appstoreconnect-v1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"TeamKeyOK", sign(cr.ASCKeyID, good()), 200},
		{"IndividualKeyOK", sign(cr.ASCKeyID, jwt.MapClaims{"sub": "user", "aud": "appstoreconnect-v1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}), 200},
		{"WrongKid", sign("ZZZZZZZZZZ", good()), 401},
		{"Expired", sign(cr.ASCKeyID, with("exp", now.Add(-time.Minute).Unix())), 401},
		{"LifetimeOver20Minutes", sign(cr.ASCKeyID, with("exp", now.Add(21*time.Minute).Unix())), 401},
		{"WrongAudience", sign(cr.ASCKeyID, with("aud", "apple-developer-enterprise-v1")), 401},
		{"WrongIssuer", sign(cr.ASCKeyID, with("iss", "00000000-0000-0000-0000-000000000000")), 401},
		{"NoExpiry", sign(cr.ASCKeyID, with("exp", nil)), 401},
		{"NoToken", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+"/v1/apps", nil)
			require.NoError(t, err)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
		})
	}
}
