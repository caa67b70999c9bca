package issues

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// hmacSign is HMAC-SM3 keyed with the secret over the sorted fields
// without sign and the empty ones, as a peer reading "digested with the
// appsecret" literally signs: written here independently of protocol.
func hmacSign(fields map[string]string, secret string) string {
	var keys []string
	for k, v := range fields {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, k+"="+fields[k])
	}
	m := hmac.New(sm3.New, []byte(secret))
	m.Write([]byte(strings.Join(pairs, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

// postAnswer sends a raw body to one of the stack's doors and decodes the answer.
func postAnswer(t *testing.T, url string, body string) protocol.Response {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r protocol.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return r
}

// TestPeerDialectConfigurable: a platform and an institution whose peers
// sign with HMAC-SM3 and write binary fields in hex (integrations built on
// sm-crypto) could not be connected: the sign was SM3 with "&appsecret="
// and base64 only, and the configuration had no key for either. Both
// sides set to sign = "hmac-sm3", encoding = "hex" (set by the keys'
// names) now issue a guarantee, with HMAC-SM3 signs and hex fields on the
// wire; a request signed the default way is refused with an answer that
// names both variants.
func TestPeerDialectConfigurable(t *testing.T) {
	set := func(p *config.Peer) {
		for _, kv := range [][2]string{{"Sign", "hmac-sm3"}, {"Encoding", "hex"}} {
			f := reflect.ValueOf(p).Elem().FieldByName(kv[0])
			if !f.IsValid() {
				t.Fatalf("a peer's configuration has no key %s: the dialect cannot be configured", strings.ToLower(kv[0]))
			}
			f.SetString(kv[1])
		}
	}
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(set), harness.WithInstitutionPeer(set))
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)

	var apply, complete map[string]string
	for _, ex := range s.Wire() {
		var f map[string]string
		if json.Unmarshal(ex.Request, &f) != nil || f["sign"] == "" {
			continue
		}
		if got := hmacSign(f, harness.AppSecret); f["sign"] != got {
			t.Errorf("%s: sign %s is not HMAC-SM3 (%s)", ex.Path, f["sign"], got)
		}
		switch {
		case strings.HasSuffix(ex.Path, "/baohanapply"):
			apply = f
		case strings.HasSuffix(ex.Path, "/baohanfilecompletenotice"):
			complete = f
		}
	}
	if apply == nil || complete == nil {
		t.Fatalf("baohanapply %v, baohanfilecompletenotice %v", apply != nil, complete != nil)
	}
	for _, v := range []string{apply["applydata"], apply["digitalenvelope"], complete["key"], complete["iv"]} {
		if _, err := hex.DecodeString(v); err != nil {
			t.Errorf("a binary field is not hex: %.60s", v)
		}
	}

	// The default sign, to a platform configured for HMAC-SM3.
	f := map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now()), "applyno": applyNo}
	f["sign"] = protocol.Sign(f, harness.AppSecret)
	r := postAnswer(t, s.PlatDoor.URL+"/downloadpublickey", string(protocol.MarshalFields(f)))
	if r.Code != 0 || !strings.Contains(r.Message, "sm3") || !strings.Contains(r.Message, "hmac-sm3") {
		t.Errorf("an SM3 sign to an HMAC-SM3 platform: %+v, want a refusal naming both", r)
	}
}

// TestNumbersAcceptedAndMessagesShort: a field sent as a JSON number or
// boolean was refused ("must be a JSON string") although deployed peers
// send amounts and flags unquoted and sign their text; and answers carried
// messages of any length where the spec's message is 100 characters.
// Numbers and booleans are now checked and signed as their text; a longer
// message is cut to 100 characters in the answer and kept whole in the
// message log.
func TestNumbersAcceptedAndMessagesShort(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	ts := protocol.FormatTime(s.Clock.Now())
	f := map[string]string{"appkey": harness.AppKey, "timestamp": ts, "applyno": "BH20260101ZZZZZZZZZZZZ", "bak1": "7", "bak2": "true"}
	sign := protocol.Sign(f, harness.AppSecret) // over "bak1=7" and "bak2=true", the text sent
	body := `{"appkey":"` + harness.AppKey + `","timestamp":"` + ts + `","applyno":"BH20260101ZZZZZZZZZZZZ","bak1":7,"bak2":true,"sign":"` + sign + `"}`
	r := postAnswer(t, s.PlatDoor.URL+"/downloadpublickey", body)
	if r.Code != 0 || !strings.Contains(r.Message, "BH20260101ZZZZZZZZZZZZ") || strings.Contains(r.Message, "JSON string") {
		t.Errorf("a number and a boolean: %+v, want the answer on its merits (an unknown applyno)", r)
	}

	// A refusal longer than 100 characters: a stale timestamp.
	f = map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now().Add(-time.Hour)), "applyno": "BH20260101ZZZZZZZZZZZZ"}
	f["sign"] = protocol.Sign(f, harness.AppSecret)
	r = postAnswer(t, s.PlatDoor.URL+"/downloadpublickey", string(protocol.MarshalFields(f)))
	if n := utf8.RuneCountInString(r.Message); r.Code != 0 || n > 100 || !strings.HasPrefix(r.Message, "timestamp") {
		t.Fatalf("a stale request: message of %d characters: %+v", n, r)
	}
	no := false
	var full string
	s.Eventually("the refusal in the message log", 5*time.Second, func() bool {
		es, err := s.Plat.Messages(context.Background(), store.LogFilter{Direction: "in", OK: &no, Limit: 1})
		if err == nil && len(es) == 1 {
			full = es[0].Error
		}
		return strings.Contains(full, "allowed difference")
	})
	if utf8.RuneCountInString(full) <= 100 || !strings.HasPrefix(full, strings.TrimSuffix(r.Message, "…")) {
		t.Errorf("the message log has %q for the answer %q", full, r.Message)
	}
}
