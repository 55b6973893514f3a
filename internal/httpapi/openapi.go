package httpapi

import (
	_ "embed"
	"net/http"
)

// openapiDoc describes the API; TestOpenAPIMatchesRoutes keeps it in step
// with routes().
//
//go:embed openapi.json
var openapiDoc []byte

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}
