package gm

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
)

// Envelope is the two fields of baohanapply that carry the apply data.
type Envelope struct {
	ApplyData       string `json:"applydata"`
	DigitalEnvelope string `json:"digitalenvelope"`
}

// SealApplyData is SealEnvelope for apply-data JSON as a person gives it
// (surrounding white space dropped): it refuses empty input and input
// that is not JSON.
func SealApplyData(pub *ecdsa.PublicKey, data []byte, l CipherLayout) (Envelope, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Envelope{}, errors.New("no apply-data JSON on the input")
	}
	if !json.Valid(data) {
		return Envelope{}, errors.New("the input is not valid JSON (apply data is a JSON object)")
	}
	ad, env, err := SealEnvelope(pub, data, l)
	return Envelope{ad, env}, err
}
