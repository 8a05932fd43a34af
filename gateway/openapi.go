package gateway

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI document generated from the protos by `make
// generate`.
//
//go:embed openapi/chave.swagger.json
var openAPI []byte

// serveOpenAPI is GET /openapi.json.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI) // the client is gone; nothing to do
}
