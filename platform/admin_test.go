package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/service/servicetest"
	"github.com/baohan-dev/baohan/store"
)

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func TestAdminAuth(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		for _, auth := range []string{"", "Bearer wrong", "Basic " + testAdmin, "Bearer " + testAdmin + "x"} {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/applications", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "missing or wrong bearer token") {
				t.Errorf("auth %q: %d %s", auth, res.StatusCode, b)
			}
		}
		code, _ := e.admin("GET", "/api/applications", nil)
		if code != http.StatusOK {
			t.Fatalf("with the token: %d", code)
		}
		code, b := e.admin("GET", "/api/nothing", nil)
		if code != http.StatusNotFound || !strings.Contains(string(b), "no API GET /api/nothing") {
			t.Errorf("unknown API: %d %s", code, b)
		}
	})
}

// TestAdminAPI drives the flow through the admin API and reads it back.
func TestAdminAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		kbt := e.clock.Now().Add(2 * time.Hour)

		code, b := e.admin("POST", "/api/sections", map[string]any{"section_no": "ZB-001", "name": "某某学校教学楼工程", "tenderer": "某某教育局",
			"tenderer_code": "11330100MB0000000X", "bond_amount": "50000.00", "kaibiaotime": protocol.FormatTime(kbt)})
		if code != http.StatusCreated {
			t.Fatalf("register section: %d %s", code, b)
		}
		sec := decode[Section](t, b)
		if !sec.KaibiaoTime.Equal(kbt) || sec.BondAmount.String() != "50000" {
			t.Fatalf("section %+v", sec)
		}
		if code, b := e.admin("POST", "/api/sections", map[string]any{"section_no": "ZB-001", "name": "x", "tenderer": "y", "bond_amount": "1", "kaibiaotime": protocol.FormatTime(kbt)}); code != http.StatusBadRequest ||
			decode[apiError](t, b).Error != "section_no: section ZB-001 is already registered" {
			t.Errorf("duplicate section: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/sections", map[string]any{"section_no": "ZB-002", "name": "x", "tenderer": "y", "bond_amount": "-1", "kaibiaotime": "2020-01-01 00:00:00"}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), "保证金金额 must be positive") || !strings.Contains(string(b), "is not in the future") {
			t.Errorf("bad section: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/sections", map[string]any{"section_no": "ZB-003", "oops": 1}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), `unknown field \"oops\"`) {
			t.Errorf("unknown field: %d %s", code, b)
		}

		code, b = e.admin("POST", "/api/bidders", BidderInput{Name: e.pki.bidder.Name, CreditCode: e.pki.bidder.CreditCode, CertPEM: string(e.pki.bidder.CertPEM)})
		if code != http.StatusCreated {
			t.Fatalf("register bidder: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/bidders", BidderInput{Name: "x", CreditCode: "91110000MA01OTHER1", CertPEM: string(e.pki.bidder.CertPEM)}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), "the certificate names credit code 91110000MA01BDD014, not 91110000MA01OTHER1") {
			t.Errorf("credit code mismatch: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/bidders", BidderInput{Name: "x", CreditCode: e.pki.rogue.CreditCode, CertPEM: string(e.pki.rogue.CertPEM)}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), "is not issued under a trusted CA") {
			t.Errorf("untrusted bidder certificate: %d %s", code, b)
		}

		code, b = e.admin("POST", "/api/applications", ApplyInput{SectionNo: "ZB-001", BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "不存在"})
		if code != http.StatusBadRequest || decode[apiError](t, b).Error != `product: institution bank has no product "不存在" (it has: 投标保函, 投标保函（低费率）)` {
			t.Errorf("unknown product: %d %s", code, b)
		}
		code, b = e.admin("POST", "/api/applications", ApplyInput{SectionNo: "ZB-001", BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
		if code != http.StatusCreated {
			t.Fatalf("apply: %d %s", code, b)
		}
		a := decode[Application](t, b)
		if a.State != Applied || a.Rate.String() != "0.005" || a.BondAmount.String() != "50000" {
			t.Fatalf("application %+v", a)
		}
		code, b = e.admin("POST", "/api/applications", ApplyInput{SectionNo: "ZB-001", BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
		if code != http.StatusBadRequest || !strings.Contains(string(b), "already has application "+a.ApplyNo) {
			t.Errorf("second application: %d %s", code, b)
		}
		e.settle()
		wantOK(t, "notice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, "BHNO-A", "1")))
		wantOK(t, "cipher", e.sendGuarantee(a.ApplyNo, "BHNO-A", "1", guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: "BHNO-A"}), plainUpload()))

		// Lists and filters.
		for _, q := range []string{"?state=cipher_received", "?section=ZB-001", "?institution=bank", "?applyno=" + a.ApplyNo[:12], "?baohanno=BHNO-A", "?bidder=" + e.pki.bidder.CreditCode} {
			code, b := e.admin("GET", "/api/applications"+q, nil)
			if as := decode[[]Application](t, b); code != 200 || len(as) != 1 || as[0].ApplyNo != a.ApplyNo {
				t.Errorf("applications%s: %d %s", q, code, b)
			}
		}
		for _, q := range []string{"?state=quit", "?section=nope", "?institution=bank2"} {
			if _, b := e.admin("GET", "/api/applications"+q, nil); len(decode[[]Application](t, b)) != 0 {
				t.Errorf("applications%s: %s", q, b)
			}
		}
		if code, b := e.admin("GET", "/api/applications?state=bogus", nil); code != http.StatusBadRequest {
			t.Errorf("bogus state: %d %s", code, b)
		}

		code, b = e.admin("GET", "/api/applications/"+a.ApplyNo, nil)
		d := decode[ApplicationDetail](t, b)
		if code != 200 || d.Application.State != CipherReceived || len(d.History) < 4 || len(d.Guarantees) != 1 || len(d.Calls) != 2 {
			t.Fatalf("detail: %d %s", code, b)
		}
		if code, _ := e.admin("GET", "/api/applications/BH20260101ZZZZZZZZZZZZ", nil); code != http.StatusNotFound {
			t.Errorf("unknown application: %d", code)
		}

		// Guarantees: the OFD and its report.
		code, b = e.admin("GET", "/api/guarantees/"+a.ApplyNo+"/1", nil)
		if g := decode[Guarantee](t, b); code != 200 || !g.SealsOK || g.BaohanNo != "BHNO-A" {
			t.Fatalf("guarantee: %d %s", code, b)
		}
		code, ofdBytes := e.admin("GET", "/api/guarantees/"+a.ApplyNo+"/1/ofd", nil)
		if code != 200 || !bytes.HasPrefix(ofdBytes, []byte("PK")) {
			t.Fatalf("ofd: %d %.20q", code, ofdBytes)
		}
		code, b = e.admin("GET", "/api/guarantees/"+a.ApplyNo+"/1/report", nil)
		if v := decode[sealVerdict](t, b); code != 200 || !v.OK || len(v.Report.Signatures) != 1 || v.Report.Signatures[0].Signer != e.pki.inst.Name {
			t.Fatalf("report: %d %s", code, b)
		}
		if code, _ := e.admin("GET", "/api/guarantees/"+a.ApplyNo+"/2", nil); code != http.StatusNotFound {
			t.Errorf("missing plaintext guarantee: %d", code)
		}
		if code, _ := e.admin("GET", "/api/guarantees/"+a.ApplyNo+"/3", nil); code != http.StatusBadRequest {
			t.Errorf("filetype 3: %d", code)
		}

		// The message log.
		_, b = e.admin("GET", "/api/messages?applyno="+a.ApplyNo+"&interface=baohannotice", nil)
		if ms := decode[[]service.MessageView](t, b); len(ms) != 1 || !ms[0].OK || ms[0].Direction != "in" || ms[0].Peer != "bank" {
			t.Errorf("messages: %s", b)
		}
		r := e.send(protocol.BaohanNotice, with(e.noticeFields(a.ApplyNo, "BHNO-A", "1"), "cost", "1.00"))
		_, b = e.admin("GET", "/api/messages?applyno="+a.ApplyNo+"&result=failed", nil)
		if ms := decode[[]service.MessageView](t, b); len(ms) != 1 || ms[0].Error != r.Message || ms[0].Code != 0 {
			t.Errorf("failed messages: %s", b)
		}
		_, b = e.admin("GET", "/api/messages?peer=bank&direction=out&interface=baohanapply", nil)
		if ms := decode[[]service.MessageView](t, b); len(ms) != 1 || ms[0].ApplyNo != a.ApplyNo {
			t.Errorf("outbound messages: %s", b)
		}
		if code, b := e.admin("GET", "/api/messages?result=maybe", nil); code != http.StatusBadRequest {
			t.Errorf("result=maybe: %d %s", code, b)
		}
		_, b = e.admin("GET", "/api/messages/verify", nil)
		if !strings.Contains(string(b), `"intact": true`) {
			t.Errorf("chain: %s", b)
		}

		// Actions: postpone, quit refused by the institution, then restore
		// and claim.
		later := kbt.Add(24 * time.Hour)
		code, b = e.admin("POST", "/api/sections/ZB-001/postpone", map[string]string{"kaibiaotime": protocol.FormatTime(later), "reason": "答疑延期"})
		if s := decode[Section](t, b); code != 200 || !s.KaibiaoTime.Equal(later) {
			t.Fatalf("postpone: %d %s", code, b)
		}
		e.inst.setAnswer(protocol.QuitApply, answerRefuse("请线下办理"))
		if code, b := e.admin("POST", "/api/applications/"+a.ApplyNo+"/quit", map[string]string{}); code != http.StatusBadRequest || !strings.Contains(string(b), "退保原因 is required") {
			t.Errorf("quit without reason: %d %s", code, b)
		}
		code, b = e.admin("POST", "/api/applications/"+a.ApplyNo+"/quit", map[string]string{"reason": "不参与"})
		if code != 200 || decode[Application](t, b).State != QuitRequested {
			t.Fatalf("quit: %d %s", code, b)
		}
		e.settle()
		if got := e.app(a.ApplyNo); got.State != CipherReceived || got.LastMessage != "quitapply refused: 请线下办理" {
			t.Fatalf("after refused quit: %+v", got)
		}
		if code, b := e.admin("POST", "/api/applications/"+a.ApplyNo+"/restore", nil); code != http.StatusConflict ||
			!strings.Contains(string(b), "only after the bid opening at "+protocol.FormatTime(later)) {
			t.Errorf("restore before the opening: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/applications/"+a.ApplyNo+"/giveup", nil); code != http.StatusConflict {
			t.Errorf("give up after approval: %d %s", code, b)
		}
		if code, b := e.admin("POST", "/api/applications/"+a.ApplyNo+"/fly", nil); code != http.StatusNotFound {
			t.Errorf("unknown action: %d %s", code, b)
		}
		e.clock.Set(later)
		e.eventually("the restore", func() bool { return e.app(a.ApplyNo).State == Restored })
		code, b = e.admin("POST", "/api/applications/"+a.ApplyNo+"/claim", map[string]any{"applyusername": "李四", "applyuserphone": "13900000000",
			"payeramount": "50000", "filelist": []string{"https://agent.example.cn/c.pdf"}})
		if code != 200 {
			t.Fatalf("claim: %d %s", code, b)
		}
		e.settle()
		e.wantState(a.ApplyNo, Claimed)

		// The outbox: a call to an institution that is down, then retried.
		e.inst.setDown(true)
		sec2 := e.section(time.Hour)
		e.bidder(e.pki.bidder2)
		b2, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec2.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		e.eventually("a failed delivery", func() bool {
			_, b := e.admin("GET", "/api/outbox?state=failed&applyno="+b2.ApplyNo, nil)
			ms := decode[[]store.OutMessage](t, b)
			if len(ms) == 1 {
				id = ms[0].ID
				if ms[0].Fields["applydata"] == "" || len(ms[0].Fields["applydata"]) > 30 {
					t.Errorf("applydata not shortened in the listing: %q", ms[0].Fields["applydata"])
				}
			}
			return len(ms) == 1
		})
		_, b = e.admin("GET", "/api/outbox/counts", nil)
		if c := decode[map[string]int](t, b); c["failed"] < 1 {
			t.Errorf("counts %s", b)
		}
		e.inst.setDown(false)
		code, b = e.admin("POST", fmt.Sprintf("/api/outbox/%d/retry", id), nil)
		if code != 200 && code != http.StatusBadRequest { // it may have been retried meanwhile
			t.Fatalf("retry: %d %s", code, b)
		}
		e.settle()
		e.eventually("the delivery", func() bool { return e.app(b2.ApplyNo).RedirectURL != "" })
		if code, b := e.admin("POST", fmt.Sprintf("/api/outbox/%d/retry", id), nil); code != http.StatusBadRequest || !strings.Contains(string(b), "only dead or failed messages can be requeued") {
			t.Errorf("retry of a done message: %d %s", code, b)
		}
		if code, _ := e.admin("POST", "/api/outbox/999999/retry", nil); code != http.StatusNotFound {
			t.Errorf("retry of an unknown message: %d", code)
		}

		_, b = e.admin("GET", "/api/institutions", nil)
		if strings.Contains(string(b), testAppSecret) || !strings.Contains(string(b), `"rate": "0.005"`) || !strings.Contains(string(b), `"appkey": "bank-key"`) {
			t.Errorf("institutions: %s", b)
		}
		_, b = e.admin("GET", "/api/sections?q=教学楼", nil)
		if ss := decode[[]Section](t, b); len(ss) != 1 || ss[0].No != "ZB-001" {
			t.Errorf("sections?q: %s", b)
		}
		_, b = e.admin("GET", "/api/bidders?q=另一家", nil)
		if bs := decode[[]Bidder](t, b); len(bs) != 1 {
			t.Errorf("bidders?q: %s", b)
		}
	})
}

func TestMetricsAndHealth(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.applied(e.section(time.Hour))
		e.send(protocol.GiveupNotice, map[string]string{"applyno": "BH20260101ZZZZZZZZZZZZ"})
		res, err := http.Get(e.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{
			`baohan_platform_requests_total{code="0",direction="in",interface="giveupnotice"} 1`,
			`baohan_platform_requests_total{code="1",direction="out",interface="baohanapply"} 1`,
			`baohan_platform_deliveries_total{interface="baohanapply",result="ok"} 1`,
			`baohan_platform_outbox_messages{state="done"} 1`,
			`baohan_platform_request_duration_seconds_bucket{direction="in",interface="giveupnotice"`,
			`go_goroutines`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		res, err = http.Get(e.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
			t.Errorf("healthz: %d %s", res.StatusCode, b)
		}
		// Anything else is a protocol path: always JSON.
		res, _ = http.Get(e.srv.URL + "/nope/deeper")
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		var pr protocol.Response
		if json.Unmarshal(b, &pr) != nil || pr.Code != 0 || res.StatusCode != http.StatusNotFound {
			t.Errorf("unknown path: %d %s", res.StatusCode, b)
		}
	})
}

// TestOpenAPIMatchesRoutes: /api/openapi.json describes every route the
// platform serves, and nothing it does not.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, "")
	servicetest.OpenAPIMatchesRoutes(t, "platform", e.svc.Routes())
	code, b := e.admin("GET", "/api/openapi.json", nil)
	if code != http.StatusOK || !bytes.Equal(b, service.OpenAPI()) {
		t.Errorf("GET /api/openapi.json: %d, %d bytes", code, len(b))
	}
}
