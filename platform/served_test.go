package platform

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// validFields are requests of each served interface that pass the field
// rules (the pipeline checks come before the business).
func validFields() map[protocol.Interface]map[string]string {
	return map[protocol.Interface]map[string]string{
		protocol.BaohanNotice: {"applyno": "BH20260101AAAAAAAAAAAA", "baohanno": "X1", "instname": "某银行", "generatetime": "2026-01-01 10:00:00",
			"rate": "0.005", "cost": "100.00", "applystatus": "1"},
		protocol.DownloadPublicKey: {"applyno": "BH20260101AAAAAAAAAAAA"},
		protocol.UploadBaohanFile: {"applyno": "BH20260101AAAAAAAAAAAA", "baohanno": "X1", "baohanfile": b64([]byte("0123456789abcdef")),
			"filetype": "1", "index": "1"},
		protocol.BaohanFileCompleteNotice: {"applyno": "BH20260101AAAAAAAAAAAA", "baohanno": "X1", "key": "AAAA", "iv": "AAAA",
			"baohanfilemd5": strings.Repeat("ab", 32), "filetype": "1"},
		protocol.InvoiceNotice: {"baohanno": "X1", "applystatus": "1"},
		protocol.QuitNotice:    {"applyno": "BH20260101AAAAAAAAAAAA", "baohanno": "X1", "applystatus": "0"},
		protocol.GiveupNotice:  {"applyno": "BH20260101AAAAAAAAAAAA"},
	}
}

func servedInterfaces() []protocol.Interface {
	return []protocol.Interface{protocol.BaohanNotice, protocol.DownloadPublicKey, protocol.UploadBaohanFile,
		protocol.BaohanFileCompleteNotice, protocol.InvoiceNotice, protocol.QuitNotice, protocol.GiveupNotice}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestPipeline checks, for every served interface, what the transport
// pipeline refuses before the business: a wrong sign (with the diagnosis
// in the message log), a stale timestamp, a replay (a retry, the same
// body again, is answered as the first), an unknown appkey.
func TestPipeline(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		for _, i := range servedInterfaces() {
			fields := validFields()[i]
			t.Run(string(i), func(t *testing.T) {
				t.Run("wrong sign", func(t *testing.T) {
					body := e.signed(fields, "not-the-secret")
					r := e.sendRaw(i, body)
					req, err := protocol.ParseRequest(body)
					if err != nil {
						t.Fatal(err)
					}
					vr := protocol.Verify(req, testAppSecret)
					diag := vr.Diagnosis()
					wantFail(t, "wrong sign", r, vr.Summary())
					rows, err := e.svc.MessageLog().List(e.ctx, store.LogFilter{Interface: string(i), Direction: "in", Limit: 1})
					if err != nil || len(rows) != 1 {
						t.Fatalf("message log: %v %v", rows, err)
					}
					if rows[0].SignOK || rows[0].Diagnosis != diag || rows[0].Code != 0 || rows[0].Peer != "bank" {
						t.Errorf("message log row: sign_ok %v, diagnosis %q, code %d, peer %q", rows[0].SignOK, rows[0].Diagnosis, rows[0].Code, rows[0].Peer)
					}
				})
				t.Run("stale timestamp", func(t *testing.T) {
					now := e.clock.Now()
					ts := protocol.FormatTime(now.Add(-11 * time.Minute))
					r := e.send(i, with(fields, "timestamp", ts))
					wantFail(t, "stale", r, fmt.Sprintf("timestamp %q is 11m0s behind the receiver's clock (%s); the allowed difference is 10m0s", ts, protocol.FormatTime(now)))
					now = e.clock.Now()
					ts = protocol.FormatTime(now.Add(11 * time.Minute))
					r = e.send(i, with(fields, "timestamp", ts))
					wantFail(t, "ahead", r, fmt.Sprintf("timestamp %q is 11m0s ahead of the receiver's clock (%s); the allowed difference is 10m0s", ts, protocol.FormatTime(now)))
				})
				t.Run("replay", func(t *testing.T) {
					f := with(fields, "bak2", "replay-"+string(i))
					body := e.signed(f, testAppSecret)
					first := e.sendRaw(i, body) // whatever the business answer
					if again := e.sendRaw(i, body); again.Code != first.Code || again.Message != first.Message || string(again.Data) != string(first.Data) {
						t.Fatalf("retry: %+v, want the first answer %+v", again, first)
					}
					// An empty field is not signed: the same sign, another body.
					wantFail(t, "replay", e.sendRaw(i, e.signed(with(f, "bak3", ""), testAppSecret)),
						`replayed request: this sign was already received from appkey "bank-key"; send a new request with a new timestamp and sign`)
				})
				t.Run("unknown appkey", func(t *testing.T) {
					wantFail(t, "unknown appkey", e.sendAs("nope", "x", i, fields), `unknown appkey "nope"`)
				})
			})
		}
	})
}

// TestFieldRules checks that each served interface refuses broken fields
// with the rule's message, before any business.
func TestFieldRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("长", n) }
	cases := []struct {
		i      protocol.Interface
		name   string
		fields []string // changes to the valid fields
		want   string
	}{
		{protocol.BaohanNotice, "applyno missing", []string{"applyno", "<delete>"}, `field "applyno" is required`},
		{protocol.BaohanNotice, "applyno too long", []string{"applyno", strings.Repeat("A", 51)}, `field "applyno" is longer than 50 characters (51)`},
		{protocol.BaohanNotice, "applystatus not 0/1", []string{"applystatus", "2"}, `field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "2"`},
		{protocol.BaohanNotice, "rate not decimal", []string{"rate", "0,005"}, `field "rate" must be a decimal string like "0.005", got "0,005"`},
		{protocol.BaohanNotice, "cost not decimal", []string{"cost", "-1"}, `field "cost" must be a decimal string like "200.00", got "-1"`},
		{protocol.BaohanNotice, "generatetime format", []string{"generatetime", "2026/01/01 10:00"}, `field "generatetime" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "2026/01/01 10:00"`},
		{protocol.BaohanNotice, "instname too long", []string{"instname", long(201)}, `field "instname" is longer than 200 characters (201)`},
		{protocol.BaohanNotice, "instname missing", []string{"instname", ""}, `field "instname" is required`},
		{protocol.DownloadPublicKey, "applyno missing", []string{"applyno", "<delete>"}, `field "applyno" is required`},
		{protocol.DownloadPublicKey, "bak1 too long", []string{"bak1", long(201)}, `field "bak1" is longer than 200 characters (201)`},
		{protocol.UploadBaohanFile, "filetype 3", []string{"filetype", "3"}, `field "filetype" must be "1" (密文) or "2" (明文), got "3"`},
		{protocol.UploadBaohanFile, "index negative", []string{"index", "-1"}, `field "index" must be a non-negative decimal integer like "1", got "-1"`},
		{protocol.UploadBaohanFile, "baohanfile not base64", []string{"baohanfile", "not base64!"}, `field "baohanfile" must be standard base64 (A-Z a-z 0-9 + /, padded with =): bad data at offset 3`},
		{protocol.UploadBaohanFile, "baohanno missing", []string{"baohanno", "<delete>"}, `field "baohanno" is required`},
		{protocol.BaohanFileCompleteNotice, "digest not hex", []string{"baohanfilemd5", "xyz"}, `field "baohanfilemd5" must be a hex digest (64 hex characters for SM3, 32 for MD5), got "xyz"`},
		{protocol.BaohanFileCompleteNotice, "key too long", []string{"key", strings.Repeat("Z", 204)}, `field "key" is longer than 200 characters (204)`},
		{protocol.BaohanFileCompleteNotice, "iv missing", []string{"iv", "<delete>"}, `field "iv" is required`},
		{protocol.InvoiceNotice, "baohanno missing", []string{"baohanno", "<delete>"}, `field "baohanno" is required`},
		{protocol.InvoiceNotice, "applystatus missing", []string{"applystatus", "<delete>"}, `field "applystatus" is required`},
		{protocol.InvoiceNotice, "invoiceurl too long", []string{"invoiceurl", strings.Repeat("u", 1001)}, `field "invoiceurl" is longer than 1000 characters (1001)`},
		{protocol.QuitNotice, "success without tuibaotime", []string{"applystatus", "1"}, `field "tuibaotime" is required when "applystatus" is "1" (退保成功)`},
		{protocol.QuitNotice, "tuibaotime format", []string{"applystatus", "1", "tuibaotime", "tomorrow"}, `field "tuibaotime" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "tomorrow"`},
		{protocol.GiveupNotice, "applyno missing", []string{"applyno", "<delete>"}, `field "applyno" is required`},
	}
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		for _, c := range cases {
			t.Run(string(c.i)+"/"+c.name, func(t *testing.T) {
				wantFail(t, c.name, e.send(c.i, with(validFields()[c.i], c.fields...)), c.want)
			})
		}
	})
}

// TestNoticeRules covers baohannotice's business rules.
func TestNoticeRules(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		a := e.applied(sec)
		n := e.noticeFields(a.ApplyNo, "BHNO-1", "1")

		wantFail(t, "unknown applyno", e.send(protocol.BaohanNotice, with(n, "applyno", "BH20260101ZZZZZZZZZZZZ")), "applyno BH20260101ZZZZZZZZZZZZ is unknown")
		wantFail(t, "other institution", e.sendAs(testAppKey2, testAppSecret2, protocol.BaohanNotice, n),
			fmt.Sprintf("applyno %s was not sent to appkey %s", a.ApplyNo, testAppKey2))

		wantOK(t, "notice", e.send(protocol.BaohanNotice, n))
		got := e.app(a.ApplyNo)
		if got.State != Approved || got.BaohanNo != "BHNO-1" || got.Notice == nil || got.Notice.Cost != "1000.00" {
			t.Fatalf("after the notice: %+v", got)
		}
		wantOK(t, "same notice again", e.send(protocol.BaohanNotice, n))
		wantOK(t, "same notice, amounts written differently", e.send(protocol.BaohanNotice, with(n, "cost", "1000.0", "rate", "0.0050")))
		wantFail(t, "conflicting notice", e.send(protocol.BaohanNotice, with(n, "cost", "1200.00")),
			fmt.Sprintf(`conflicting baohannotice for applyno %s: cost was "1000.00" in the notice received at %s, now "1200.00"`, a.ApplyNo, protocol.FormatTime(got.Notice.ReceivedAt)))
		wantFail(t, "conflicting status", e.send(protocol.BaohanNotice, with(n, "applystatus", "0")),
			fmt.Sprintf(`conflicting baohannotice for applyno %s: applystatus was "1" in the notice received at %s, now "0"`, a.ApplyNo, protocol.FormatTime(got.Notice.ReceivedAt)))

		// A rejection.
		e.bidder(e.pki.bidder2)
		b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "rejection", e.send(protocol.BaohanNotice, e.noticeFields(b.ApplyNo, "NONE", "0")))
		e.wantState(b.ApplyNo, Rejected)
		if e.app(b.ApplyNo).BaohanNo != "" {
			t.Error("a rejection set the guarantee number")
		}
		// A second application after the rejection is allowed.
		if _, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"}); err != nil {
			t.Fatal(err)
		}

		// A notice after the bidder gave up is an illegal move.
		c := e.giveupApplied(t, sec)
		wantFail(t, "notice after giving up", e.send(protocol.BaohanNotice, e.noticeFields(c, "BHNO-9", "1")),
			fmt.Sprintf("applyno %s is given_up (已放弃): baohannotice applystatus 1 (审核通过) is not allowed in this state", c))
	})
}

// giveupApplied makes an application that the institution then reports
// given up (giveupnotice) and returns its applyno.
func (e *env) giveupApplied(t *testing.T, sec *Section) string {
	t.Helper()
	id := e.pki.bidder2
	e.bidder(id)
	for _, a := range mustApps(e, ApplicationFilter{BidderCode: id.CreditCode, SectionNo: sec.No}) {
		if !a.State.Final() {
			wantOK(t, "giveupnotice", e.send(protocol.GiveupNotice, map[string]string{"applyno": a.ApplyNo}))
		}
	}
	a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: id.CreditCode, Institution: "bank", Product: "投标保函"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	wantOK(t, "giveupnotice", e.send(protocol.GiveupNotice, map[string]string{"applyno": a.ApplyNo}))
	e.wantState(a.ApplyNo, GivenUp)
	return a.ApplyNo
}

func mustApps(e *env, f ApplicationFilter) []Application {
	e.t.Helper()
	as, err := e.svc.Applications(e.ctx, f)
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

func TestNoticeBasicAccount(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withBasicAccount())
		a := e.applied(e.section(2 * time.Hour))
		n := e.noticeFields(a.ApplyNo, "BHNO-1", "1")
		wantFail(t, "no payer", e.send(protocol.BaohanNotice, n),
			"payername and payeraccount required: the trading centre requires the premium paid from the bidder's basic account (基本户)")
		wantFail(t, "no account", e.send(protocol.BaohanNotice, with(n, "payername", e.pki.bidder.Name)),
			"payeraccount required: the trading centre requires the premium paid from the bidder's basic account (基本户)")
		wantFail(t, "someone else pays", e.send(protocol.BaohanNotice, with(n, "payername", "代付公司", "payeraccount", "6222000011112222")),
			fmt.Sprintf(`payername "代付公司" is not the bidder %q: the premium must be paid from the bidder's basic account (基本户)`, e.pki.bidder.Name))
		e.wantState(a.ApplyNo, Applied)
		wantOK(t, "basic account", e.send(protocol.BaohanNotice, with(n, "payername", e.pki.bidder.Name, "payeraccount", "6222000011112222")))
		e.wantState(a.ApplyNo, Approved)
		// A rejection needs no payer.
		e.bidder(e.pki.bidder2)
	})
}

func TestDownloadPublicKey(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a := e.applied(e.section(2 * time.Hour))
		get := func() string {
			r := e.send(protocol.DownloadPublicKey, map[string]string{"applyno": a.ApplyNo})
			wantOK(t, "downloadpublickey", r)
			var pk protocol.PublicKeyResult
			if err := json.Unmarshal(r.Data, &pk); err != nil {
				t.Fatal(err)
			}
			return pk.PublicKey
		}
		k1 := get()
		if len(k1) != 130 || !strings.HasPrefix(k1, "04") {
			t.Fatalf("publickey %q: want 130 hex characters 04||X||Y", k1)
		}
		if k2 := get(); k2 != k1 {
			t.Fatalf("the key changed: %s then %s", k1, k2)
		}
		n := 0
		h, _ := e.svc.History(e.ctx, a.ApplyNo)
		for _, ev := range h {
			if ev.Event == EvKeyIssued {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d key-issued events, want 1", n)
		}
		// The private key is sealed at rest.
		var sealed string
		if err := e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind(`SELECT private_sealed FROM plat_apply_keys WHERE applyno = ?`), a.ApplyNo).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "PRIVATE KEY") {
			t.Errorf("private key not sealed: %.20s…", sealed)
		}
		wantFail(t, "unknown", e.send(protocol.DownloadPublicKey, map[string]string{"applyno": "BH20260101ZZZZZZZZZZZZ"}), "applyno BH20260101ZZZZZZZZZZZZ is unknown")
		wantFail(t, "other institution", e.sendAs(testAppKey2, testAppSecret2, protocol.DownloadPublicKey, map[string]string{"applyno": a.ApplyNo}),
			fmt.Sprintf("applyno %s was not sent to appkey %s", a.ApplyNo, testAppKey2))

		e.bidder(e.pki.bidder2)
		b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: a.SectionNo, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "rejection", e.send(protocol.BaohanNotice, e.noticeFields(b.ApplyNo, "NONE", "0")))
		wantFail(t, "rejected", e.send(protocol.DownloadPublicKey, map[string]string{"applyno": b.ApplyNo}),
			fmt.Sprintf("applyno %s is rejected (审核未通过): no key is issued for it", b.ApplyNo))
	})
}

// TestEveryFieldRule breaks, for every served interface, every rule of
// every field in turn (required, maximum length, format) and checks that
// the platform refuses the request with exactly the rule's message,
// before any business.
func TestEveryFieldRule(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		n := 0
		for _, i := range servedInterfaces() {
			spec := protocol.SpecOf(i)
			for _, f := range spec.Fields {
				switch f.Name {
				case "appkey", "sign", "timestamp": // the pipeline's own checks, tested in TestPipeline
					continue
				}
				var breaks [][2]string // name of the case, value ("<delete>" removes the field)
				if f.Required {
					breaks = append(breaks, [2]string{"missing", "<delete>"}, [2]string{"empty", ""})
				}
				if f.Max > 0 {
					breaks = append(breaks, [2]string{"too long", strings.Repeat("9", f.Max+1)})
				}
				switch f.Kind {
				case protocol.Timestamp:
					breaks = append(breaks, [2]string{"not a time", "2026-13-01 25:00:00"})
				case protocol.Decimal:
					breaks = append(breaks, [2]string{"not a decimal", "1e3"})
				case protocol.Enum:
					breaks = append(breaks, [2]string{"not in the enum", "9"})
				case protocol.Integer:
					breaks = append(breaks, [2]string{"not an integer", "1.5"})
				case protocol.Base64:
					breaks = append(breaks, [2]string{"not base64", "@@@@"})
				case protocol.HexDigest:
					breaks = append(breaks, [2]string{"not a digest", strings.Repeat("g", 64)})
				}
				for _, b := range breaks {
					fields := with(validFields()[i], f.Name, b[1])
					if _, ok := validFields()[i][f.Name]; !ok && b[1] == "" {
						continue // an optional field left out is fine
					}
					t.Run(fmt.Sprintf("%s/%s/%s", i, f.Name, b[0]), func(t *testing.T) {
						check := with(fields, "appkey", testAppKey, "timestamp", protocol.FormatTime(e.clock.Now()), "sign", strings.Repeat("0", 64))
						vs := protocol.Validate(i, protocol.NewRequest(check))
						if len(vs) == 0 {
							if f.Required || b[0] != "empty" {
								t.Fatalf("protocol finds nothing wrong with %s=%q", f.Name, b[1])
							}
							return
						}
						want := protocol.JoinViolations(vs, 5)
						if !strings.Contains(want, `"`+f.Name+`"`) {
							t.Fatalf("the violation %q does not name %s", want, f.Name)
						}
						wantFail(t, b[0], e.send(i, fields), want)
					})
					n++
				}
			}
		}
		if n < 60 {
			t.Errorf("only %d broken fields tried", n)
		}
	})
}
