package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/protocol"
)

var funcs = template.FuncMap{
	"time":        fmtTime,
	"pretty":      prettyJSON,
	"tone":        tone,
	"join":        strings.Join,
	"checkLabel":  checkLabel,
	"statusLabel": statusLabel,
	"claimLabel":  institution.ClaimStatusLabel,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"kb": func(v any) string {
		var n int64
		switch x := v.(type) {
		case int:
			n = int64(x)
		case int64:
			n = x
		}
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
	return clipStrings(out.String(), 600)
}

// clipStrings shortens the JSON string literals of s longer than n bytes
// (file chunks, signatures) to their start and their length, so that a
// page stays light; the raw body is a download away.
func clipStrings(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '"' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			b.WriteString(s[i:])
			break
		}
		lit := s[i : j+1]
		if len(lit) > n {
			lit = strings.ToValidUTF8(lit[:120], "") + fmt.Sprintf("…（共 %d 字节）\"", len(lit)-2)
		}
		b.WriteString(lit)
		i = j + 1
	}
	return b.String()
}

// tone classifies a state or result for its badge colour.
func tone(v any) string {
	s := strings.ToLower(fmt.Sprint(v))
	switch s {
	case "true", "ok", "1", "accepted", "complete", "approved", "issued", "restored", "plain_received", "cipher_received", "invoiced", "paid", "valid", "open", "signed":
		return "good"
	case "false", "0", "rejected", "refused", "failed", "dead", "invalid", "error":
		return "bad"
	case "compensated", "recovered":
		return "good"
	case "compensation_refused", "recovery_failed":
		return "bad"
	case "quit", "cancelled", "claimed", "given_up", "givenup", "closed", "expired":
		return "muted"
	}
	return "info"
}

// statusLabel names a record status (invoices, quits, give-ups, file
// stages) in Chinese.
func statusLabel(v any) string {
	switch s := fmt.Sprint(v); s {
	case "requested", "pending":
		return "待处理"
	case "issued":
		return "已开具"
	case "accepted":
		return "已同意"
	case "refused":
		return "已拒绝"
	case "sealed":
		return "已签章"
	case "key_requested":
		return "取公钥中"
	case "uploading":
		return "上传中"
	case "complete":
		return "平台已确认"
	case "platform":
		return "平台发起"
	case "institution":
		return "机构发起"
	case "bidder":
		return "投标人发起"
	default:
		return s
	}
}
