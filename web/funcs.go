package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

var funcs = template.FuncMap{
	"time":   fmtTime,
	"pretty": prettyJSON,
	"tone":   tone,
	"join":   strings.Join,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"kb": func(n int) string {
		if n < 1024 {
			return fmt.Sprintf("%d B", n)
		}
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	},
}

// fmtTime shows t in China Standard Time as the wire does; zero is "—".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return protocol.FormatTime(t)
}

// prettyJSON indents a JSON text for reading; anything else is shown as
// it is.
func prettyJSON(v any) string {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	case json.RawMessage:
		b = x
	default:
		return fmt.Sprint(v)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// tone classifies a state or result for its badge colour.
func tone(v any) string {
	s := strings.ToLower(fmt.Sprint(v))
	switch s {
	case "true", "ok", "1", "approved", "issued", "restored", "plain_received", "cipher_received", "invoiced", "paid", "valid", "open", "signed":
		return "good"
	case "false", "0", "rejected", "failed", "dead", "invalid", "error":
		return "bad"
	case "quit", "cancelled", "claimed", "given_up", "givenup", "closed":
		return "muted"
	}
	return "info"
}
