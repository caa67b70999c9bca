// Package httpjson writes the JSON answers of the HTTP APIs that are not
// the protocol: the services' admin and bidder APIs, the consoles' JSON,
// the CA agent.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers v as JSON with status. The answer is not to be cached
// (Cache-Control: no-store: it carries state, sometimes secrets) nor
// sniffed as anything but JSON (X-Content-Type-Options: nosniff). It is
// indented for a person reading it with curl, and keeps <, > and & as
// they are (a URL reads as it is). A failure to write is the client's
// (it went away) and is not reported.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
