package httpapi

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRoutes keeps the served OpenAPI document and the route
// table in step: every route is documented and every documented operation
// is routed, with the role it needs stated in its summary.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1"), "OpenAPI 3.1 document, got %s", doc.OpenAPI)

	var documented []string
	summaries := map[string]string{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			var op struct {
				Summary string `json:"summary"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), key)
			summaries[key] = op.Summary
		}
	}
	var routed []string
	for _, rt := range (&handler{}).routes() {
		key := rt.method + " " + strings.TrimSuffix(rt.pattern, "{$}")
		routed = append(routed, key)
		switch rt.authMode() {
		case authBearer:
			require.Contains(t, summaries[key], "Role: "+string(rt.role), "%s must document the role it needs", key)
		case authSentryKey:
			require.Contains(t, summaries[key], "Auth: Sentry key", "%s must document that a DSN key authenticates it", key)
		}
	}
	sort.Strings(documented)
	sort.Strings(routed)
	require.Equal(t, routed, documented)
}
