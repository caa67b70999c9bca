package conformance

import "net/http"

// What the external tests (services_test.go) share with the internal
// ones: a test server for the kit, started before the suite whose handler
// it serves (Set once the suite exists; until then it answers 503).

var KitServer = kitServer

func (l *lateHandler) Set(h http.Handler) { l.set(h) }
