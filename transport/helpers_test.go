package transport

import (
	"crypto/hmac"
	"encoding/hex"

	"github.com/emmansun/gmsm/sm3"
)

func hmacSM3(key, msg string) string {
	h := hmac.New(sm3.New, []byte(key))
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}
