package transport

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// A request is checked in its peer's sign variant only; values sent as
// JSON numbers and booleans are accepted and signed over their raw text.
func TestServerDialect(t *testing.T) {
	for _, v := range protocol.SignVariants {
		t.Run(v.String(), func(t *testing.T) {
			f := newFixture(t)
			f.peer.Profile.Sign = v
			var got *protocol.Request
			f.srv.Handle(protocol.BaohanNotice, func(_ context.Context, _ *Peer, r *protocol.Request) (any, error) {
				got = r
				return nil, nil
			})
			fields := noticeFields()
			fields["cost"], fields["applystatus"], fields["urgent"] = "4000.00", "1", "true"
			fields["sign"] = protocol.SignAs(v, fields, testSecret)
			body := protocol.MarshalFields(fields)
			// unquote the number and the booleans as a sloppy peer sends them
			for _, s := range []string{`"4000.00"`, `"true"`} {
				body = bytes.Replace(body, []byte(s), []byte(strings.Trim(s, `"`)), 1)
			}
			body = bytes.Replace(body, []byte(`"applystatus":"1"`), []byte(`"applystatus":1`), 1)
			if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Code != 1 {
				t.Fatalf("%s: %s", body, a.raw)
			}
			if got == nil || got.Get("cost") != "4000.00" || got.Type("cost") != protocol.JSONNumber || got.Get("urgent") != "true" {
				t.Fatalf("the handler got %+v", got)
			}
			// Any other variant is refused, naming the one used.
			for _, other := range protocol.SignVariants {
				if other == v {
					continue
				}
				f2 := noticeFields()
				f2["timestamp"], f2["bak1"] = "2024-03-15 14:05:20", "" // an empty field tells sm3 from sm3-keep-empty
				f2["sign"] = protocol.SignAs(other, f2, testSecret)
				a := f.do(t, "POST", "/baohan/baohannotice", protocol.MarshalFields(f2))
				want := "sign mismatch: you signed as " + other.String() + "; this side expects sign " + v.String()
				if a.resp.Code != 0 || a.resp.Message != want {
					t.Errorf("signed %s: %s, want %q", other, a.raw, want)
				}
			}
		})
	}
}
