package protocol

import "encoding/json"

// Hidden is what HideKeys puts in place of a key.
const Hidden = "(hidden)"

// HideKeys returns a logged request body for people to read: the `key`
// of a body that has one (the project key a baohanrestore releases, the
// wrapped file key of a baohanfilecompletenotice) becomes Hidden. The
// message log keeps the body as it was received, so that its chain and
// the peer's sign still verify; the admin API and the consoles show and
// hand out only this form. A body that is not a JSON object, or has no
// key, is returned as it is.
func HideKeys(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	if _, ok := m["key"]; !ok {
		return b
	}
	m["key"] = json.RawMessage(`"` + Hidden + `"`)
	out, err := json.Marshal(m)
	if err != nil {
		return b
	}
	return out
}
