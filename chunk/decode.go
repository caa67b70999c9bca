package chunk

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Decode decodes one baohanfile value: standard base64, padded or not,
// line breaks ignored. The error says where it goes wrong.
func Decode(b64 string) ([]byte, error) { return decodeChunk(b64) }

func decodeChunk(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	}
	if s == "" {
		return nil, errors.New("baohanfile is empty")
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) && int(ce) < len(s) {
			return nil, fmt.Errorf("baohanfile is not base64: character %q at offset %d of %d", s[int(ce)], int(ce), len(s))
		}
		return nil, fmt.Errorf("baohanfile is not base64 (%d characters, truncated?)", len(s))
	}
	return b, nil
}
