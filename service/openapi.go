package service

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3 document of both services' HTTP routes: the
// ones they share and each one's own (x-baohan-services names who serves
// an operation). TestOpenAPIMatchesRoutes in the platform and the
// institution holds it against the routes they register.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document (JSON) served at /api/openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.Write(openAPI)
}
