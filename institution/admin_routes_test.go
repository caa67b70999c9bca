package institution

import (
	"testing"

	"github.com/baohan-dev/baohan/service/servicetest"
)

// TestOpenAPIMatchesRoutes: /api/openapi.json describes every route the
// institution serves, and nothing it does not.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, false)
	servicetest.OpenAPIMatchesRoutes(t, "institution", e.svc.Routes())
}
