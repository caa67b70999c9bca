package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store/storetest"
	"github.com/baohan-dev/baohan/web"
)

// The claim's whole life (issue 16 §2), over HTTP between a running
// platform and institution: the institution's staff record the outcome of
// a claim and the recovery through the admin API; claimsresultnotice and
// claimsrepaynotice carry them to the platform when both sides enable
// them (extensions), and the platform's application follows: claimed →
// claim_pending → compensated → recovery_failed → recovered, or
// compensation_refused. Amounts are never above the guarantee (800000.00
// in the harness's sections).

var bothExtensions = []string{string(protocol.ClaimsResultNotice), string(protocol.ClaimsRepayNotice)}

func claimStack(t *testing.T, db string, platformEnables, institutionEnables bool, opts ...harness.Option) *harness.System {
	t.Helper()
	o := append([]harness.Option{harness.Quiet()}, opts...)
	if db == "postgres" {
		o = append(o, harness.WithPlatformDB(storetest.FreshSchema(t)), harness.WithInstitutionDB(storetest.FreshSchema(t)))
	}
	o = append(o, harness.WithPlatformPeer(func(p *config.Peer) { // the institution, as the platform knows it
		if platformEnables {
			p.Extensions = bothExtensions
		}
	}), harness.WithInstitutionPeer(func(p *config.Peer) { // the platform, as the institution knows it
		if institutionEnables {
			p.Extensions = bothExtensions
		}
	}))
	return harness.Start(t, o...)
}

// claimed issues a guarantee, claims amount on it from the platform and
// returns the applyno and the institution's claim id.
func claimed(t *testing.T, s *harness.System, amount string) (string, string) {
	t.Helper()
	ctx := context.Background()
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	if _, err := s.Plat.Claim(ctx, applyNo, platform.ClaimInput{PayerAccount: "32001881236052500123",
		PayerAmount: decimal.RequireFromString(amount), ApplyUserName: "江苏华信招标代理有限公司 周敏", ApplyUserPhone: "025-86660123",
		Reason: "中标人无正当理由拒绝签订合同", FileList: []string{"https://zb.example.cn/f/claim-1.pdf"}}); err != nil {
		t.Fatal(err)
	}
	s.WaitPlat(applyNo, platform.Claimed, 15*time.Second)
	list, err := s.Inst.Claims(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ApplyNo == applyNo {
			if c.Status != institution.ClaimReceived {
				t.Fatalf("a new claim is %s, want received", c.Status)
			}
			return applyNo, c.ID
		}
	}
	t.Fatalf("the institution has no claim on %s", applyNo)
	return "", ""
}

// instAPI calls the institution's admin API over HTTP.
func instAPI(t *testing.T, s *harness.System, path string, body any) (int, *institution.Claim, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.InstDoor.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+harness.InstAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(raw)
	}
	var c institution.Claim
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v: %s", path, err, raw)
	}
	return resp.StatusCode, &c, string(raw)
}

func mustRecord(t *testing.T, s *harness.System, path string, body any, wantStatus string) *institution.Claim {
	t.Helper()
	code, c, raw := instAPI(t, s, path, body)
	if code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, code, raw)
	}
	if c.Status != wantStatus {
		t.Fatalf("POST %s: claim is %s, want %s", path, c.Status, wantStatus)
	}
	return c
}

func wantRefused(t *testing.T, s *harness.System, path string, body any, want string) {
	t.Helper()
	code, _, raw := instAPI(t, s, path, body)
	if code != http.StatusUnprocessableEntity || !strings.Contains(raw, want) {
		t.Errorf("POST %s %v: %d %s, want 422 naming %q", path, body, code, raw, want)
	}
}

func outcomes(t *testing.T, s *harness.System, applyNo string) []*platform.ClaimOutcome {
	t.Helper()
	list, err := s.Plat.ClaimOutcomes(context.Background(), applyNo)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestClaimLife(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			// The platform's answers to claim notices are slow once
			// (past the institution's 2s timeout): the institution sends
			// again, and the platform, which applied the first, answers
			// the second ok without applying it twice.
			s := claimStack(t, db, true, true, harness.WithTimeout(2*time.Second))
			s.PlatDoor.SlowFor = 3 * time.Second

			t.Run("paid in part, then recovered", func(t *testing.T) {
				applyNo, id := claimed(t, s, "500000.00")
				base := "/api/claims/" + id
				mustRecord(t, s, base+"/outcome", map[string]any{"status": "pending", "amount": "500000.00",
					"date": "2026-12-07 10:00:00", "actor": "li.si"}, institution.ClaimPending)
				s.WaitPlat(applyNo, platform.ClaimPending, 15*time.Second)

				// Above the guarantee, above the claim's demand: refused.
				wantRefused(t, s, base+"/outcome", map[string]any{"status": "paid", "amount": "800000.01",
					"vouchers": []string{"https://fi.example.cn/v/1.pdf"}}, "exceeds the guaranteed amount")
				wantRefused(t, s, base+"/outcome", map[string]any{"status": "paid", "amount": "500000.01",
					"vouchers": []string{"https://fi.example.cn/v/1.pdf"}}, "exceeds what claim "+id+" demanded (payeramount 500000.00)")
				wantRefused(t, s, base+"/outcome", map[string]any{"status": "paid", "amount": "300000.00"},
					"at least one URL")
				wantRefused(t, s, base+"/recovery", map[string]any{"recovered": true, "amount": "1.00"},
					"is pending (待赔付): the recovery recovered (已追偿) cannot be recorded")

				s.PlatDoor.Inject("claimsresultnotice", harness.Slow)
				paid := map[string]any{"status": "paid", "amount": "300000.00", "date": "2026-12-08 09:00:00", "way": "1",
					"transfer_date": "2026-12-08 09:05:00", "vouchers": []string{"https://fi.example.cn/v/2026120801.pdf", "https://fi.example.cn/v/2026120802.pdf"}}
				c := mustRecord(t, s, base+"/outcome", paid, institution.ClaimPaid)
				if !c.Outcome.Sent || !c.Outcome.Amount.Equal(decimal.RequireFromString("300000")) {
					t.Errorf("outcome recorded %+v", c.Outcome)
				}
				mustRecord(t, s, base+"/outcome", paid, institution.ClaimPaid) // the same record again: nothing new
				s.WaitPlat(applyNo, platform.Compensated, 20*time.Second)

				wantRefused(t, s, base+"/recovery", map[string]any{"recovered": true, "amount": "300000.01"},
					"exceeds what was paid on claim")
				mustRecord(t, s, base+"/recovery", map[string]any{"recovered": false, "amount": "0",
					"remark": "投标人账户冻结", "date": "2026-12-20 10:00:00"}, institution.ClaimRecoveryFailed)
				s.WaitPlat(applyNo, platform.RecoveryFailed, 15*time.Second)
				c = mustRecord(t, s, base+"/recovery", map[string]any{"recovered": true, "amount": "300000.00",
					"date": "2027-01-15 10:00:00", "tenderer_cooperated": true}, institution.ClaimRecovered)
				if !c.Recovery.Sent || !c.Recovery.TendererCooperated {
					t.Errorf("recovery recorded %+v", c.Recovery)
				}
				s.WaitPlat(applyNo, platform.Recovered, 15*time.Second)

				got := outcomes(t, s, applyNo)
				var kinds []string
				for _, o := range got {
					kinds = append(kinds, fmt.Sprintf("%s %s %s", o.Interface, o.Status, o.Amount.StringFixed(2)))
				}
				want := []string{"claimsresultnotice 1 500000.00", "claimsresultnotice 2 300000.00",
					"claimsrepaynotice 0 0.00", "claimsrepaynotice 1 300000.00"}
				if !slices.Equal(kinds, want) {
					t.Errorf("the platform kept %q, want %q (each notice once, whatever was sent again)", kinds, want)
				}
				if len(got) == 4 {
					if !slices.Equal(got[1].Files, []string{"https://fi.example.cn/v/2026120801.pdf", "https://fi.example.cn/v/2026120802.pdf"}) {
						t.Errorf("transferfilelist kept as %q", got[1].Files)
					}
					if got[1].Fields["compensatedate"] != "2026-12-08 09:00:00" || got[1].Fields["compensateway"] != "1" ||
						got[1].Fields["transferdate"] != "2026-12-08 09:05:00" || got[3].Fields["iszbrcooperate"] != "1" {
						t.Errorf("fields kept: %v / %v", got[1].Fields, got[3].Fields)
					}
				}
				if n := s.PlatDoor.Hits("claimsresultnotice"); n < 3 {
					t.Errorf("claimsresultnotice reached the platform %d times; the slow answer should have made the institution send the paid outcome again", n)
				}
				// Every notice delivered in the end (the slow one too).
				s.Eventually("the institution's outbox to empty", 15*time.Second, func() bool {
					return harness.OutboxProblems(context.Background(), s.Inst.DB(), "institution") == ""
				})
			})

			t.Run("refused", func(t *testing.T) {
				applyNo, id := claimed(t, s, "800000.00")
				base := "/api/claims/" + id
				wantRefused(t, s, base+"/outcome", map[string]any{"status": "refused"}, "remark is required")
				wantRefused(t, s, base+"/outcome", map[string]any{"status": "refused", "amount": "10", "remark": "x"}, "pays nothing")
				mustRecord(t, s, base+"/outcome", map[string]any{"status": "refused", "remark": "索赔材料不符合保函约定的索赔条件"}, institution.ClaimRefused)
				s.WaitPlat(applyNo, platform.CompensationRefused, 15*time.Second)
				wantRefused(t, s, base+"/recovery", map[string]any{"recovered": true, "amount": "1"}, "is refused (不予赔付)")
				got := outcomes(t, s, applyNo)
				if len(got) != 1 || got[0].Fields["compensateremark"] != "索赔材料不符合保函约定的索赔条件" || got[0].StatusLabel != "不予赔付" {
					t.Errorf("the platform kept %+v", got)
				}
			})

			t.Run("the platform refuses what breaks its rules", func(t *testing.T) {
				applyNo, _ := claimed(t, s, "100000.00")
				baohanNo := s.PlatApp(applyNo).BaohanNo
				as := s.AsInstitution()
				send := func(i protocol.Interface, f map[string]string) *protocol.Response {
					r, err := as.Call(i, f)
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				result := map[string]string{"applyno": applyNo, "baohanno": baohanNo, "compensatestatus": "2",
					"compensatedate": "2026-12-08 09:00:00", "compensateway": "2", "transferdate": "2026-12-08 09:00:00",
					"compensateamount": "800000.01", "transferfilelist": `[{"fileurl":"https://fi.example.cn/v/9.pdf"}]`}
				if r := send(protocol.ClaimsResultNotice, result); r.Code != 0 ||
					r.Message != "compensateamount 800000.01 exceeds the guaranteed amount 800000.00 (bzjamount)" {
					t.Errorf("above the guarantee: %d %q", r.Code, r.Message)
				}
				repay := map[string]string{"applyno": applyNo, "baohanno": baohanNo, "repaystatus": "1",
					"repaydate": "2026-12-09 09:00:00", "repayamount": "100.00", "iszbrcooperate": "0"}
				if r := send(protocol.ClaimsRepayNotice, repay); r.Code != 0 || !strings.Contains(r.Message, "is claimed (已理赔): claimsrepaynotice repaystatus 1") {
					t.Errorf("a recovery before any payment: %d %q", r.Code, r.Message)
				}
				result["compensateamount"] = "0.00"
				if r := send(protocol.ClaimsResultNotice, result); r.Code != 0 || !strings.Contains(r.Message, "a paid claim (compensatestatus 2, 已赔付) pays a positive amount") {
					t.Errorf("paid nothing: %d %q", r.Code, r.Message)
				}
				result["compensatestatus"], result["compensateamount"] = "3", "0"
				delete(result, "compensateremark")
				if r := send(protocol.ClaimsResultNotice, result); r.Code != 0 || r.Message != `field "compensateremark" is required when "compensatestatus" is "3" (不予赔付)` {
					t.Errorf("refused without a reason: %d %q", r.Code, r.Message)
				}
				// Sent twice (a retry signs anew): accepted twice, kept once.
				result["compensatestatus"], result["compensateamount"] = "2", "100000.00"
				for k := 0; k < 2; k++ {
					if r := send(protocol.ClaimsResultNotice, result); r.Code != 1 {
						t.Fatalf("paid, send %d: %d %q", k+1, r.Code, r.Message)
					}
				}
				if got := outcomes(t, s, applyNo); len(got) != 1 || s.PlatApp(applyNo).State != platform.Compensated {
					t.Errorf("after the same notice twice: %d kept, state %s", len(got), s.PlatApp(applyNo).State)
				}
				result["compensateamount"] = "90000.00"
				if r := send(protocol.ClaimsResultNotice, result); r.Code != 0 || !strings.Contains(r.Message, "is compensated (已赔付)") {
					t.Errorf("a second, different payment: %d %q", r.Code, r.Message)
				}
			})
		})
	}
}

// TestClaimNoticesNeedExtensions: a platform whose configuration of the
// institution does not enable the claim notices refuses them with code 0
// naming the interface and the key; an institution whose configuration of
// the platform does not enable them records the outcome and sends
// nothing (and is not in error).
func TestClaimNoticesNeedExtensions(t *testing.T) {
	s := claimStack(t, "sqlite", false, false)
	applyNo, id := claimed(t, s, "200000.00")
	c := mustRecord(t, s, "/api/claims/"+id+"/outcome", map[string]any{"status": "paid", "amount": "200000.00",
		"vouchers": []string{"https://fi.example.cn/v/1.pdf"}}, institution.ClaimPaid)
	want := "platform " + harness.PlatformName + " does not enable claimsresultnotice (its extensions)"
	if c.Outcome.Sent || c.Outcome.NotSentWhy != want {
		t.Errorf("not enabled at the institution: sent %v, reason %q, want %q", c.Outcome.Sent, c.Outcome.NotSentWhy, want)
	}
	if n := s.PlatDoor.Hits("claimsresultnotice"); n != 0 {
		t.Errorf("claimsresultnotice sent %d times", n)
	}
	if st := s.PlatApp(applyNo).State; st != platform.Claimed {
		t.Errorf("the platform's application is %s", st)
	}
	r, err := s.AsInstitution().Call(protocol.ClaimsResultNotice, map[string]string{"applyno": applyNo, "baohanno": s.PlatApp(applyNo).BaohanNo,
		"compensatestatus": "2", "compensatedate": "2026-12-08 09:00:00", "compensateway": "1", "transferdate": "2026-12-08 09:00:00",
		"compensateamount": "200000.00", "transferfilelist": `[{"fileurl":"https://fi.example.cn/v/1.pdf"}]`})
	if err != nil {
		t.Fatal(err)
	}
	wantMsg := `claimsresultnotice (optional) not enabled: add it to the extensions of appkey "` + harness.AppKey + `"`
	if r.Code != 0 || r.Message != wantMsg {
		t.Errorf("not enabled at the platform: %d %q", r.Code, r.Message)
	}
	if st := s.PlatApp(applyNo).State; st != platform.Claimed {
		t.Errorf("the platform's application is %s after a refused notice", st)
	}
}

// TestClaimLifeInTheConsoles: the institution's staff record a claim's
// outcome and recovery with the claims page's forms; the claims page
// shows them and that they were sent, and the platform's application page
// shows what arrived (amounts, dates, way, voucher links).
func TestClaimLifeInTheConsoles(t *testing.T) {
	s := claimStack(t, "sqlite", true, true)
	applyNo, id := claimed(t, s, "500000.00")
	ic := institutionConsole(t, s)
	pc := platformConsole(t, s)
	inst := staffLogin(t, ic.Auth(), s.InstDoor.URL, "li.si", web.Operator)
	plat := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "wang.wu", web.Viewer)

	_, page := inst.get("/console/claims")
	if !strings.Contains(page, `action="/console/claims/`+id+`/outcome"`) || strings.Contains(page, `/recovery"`) {
		t.Fatalf("a received claim's page offers the outcome form only")
	}
	if _, msg := inst.act("/console/claims/"+id+"/outcome", url.Values{"status": {"paid"}, "amount": {"500000.01"},
		"vouchers": {"https://fi.example.cn/v/1.pdf"}}); !strings.Contains(msg, "exceeds what claim "+id+" demanded (payeramount 500000.00)") {
		t.Errorf("paying more than demanded: flash %q", msg)
	}
	if _, msg := inst.act("/console/claims/"+id+"/outcome", url.Values{"status": {"paid"}, "amount": {"450000.00"},
		"date": {"2026-12-08 09:00:00"}, "way": {"2"}, "vouchers": {"https://fi.example.cn/v/a.pdf\nhttps://fi.example.cn/v/b.pdf"}}); msg != "已记录理赔结果：450000.00 已赔付（"+applyNo+"）" {
		t.Errorf("paid: flash %q", msg)
	}
	_, page = inst.get("/console/claims")
	for _, want := range []string{"已赔付", "450000.00", "投标单位赔付", "https://fi.example.cn/v/b.pdf", "已发送理赔结果通知（claimsresultnotice）", `/recovery"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the claims page lacks %q", want)
		}
	}
	s.WaitPlat(applyNo, platform.Compensated, 15*time.Second)
	if _, msg := inst.act("/console/claims/"+id+"/recovery", url.Values{"recovered": {"1"}, "amount": {"450000.00"},
		"date": {"2027-01-15 10:00:00"}, "tenderer_cooperated": {"0"}}); msg != "已记录追偿结果：450000.00 已追偿（"+applyNo+"）" {
		t.Errorf("recovered: flash %q", msg)
	}
	s.WaitPlat(applyNo, platform.Recovered, 15*time.Second)
	_, page = plat.get("/console/applications/" + applyNo)
	for _, want := range []string{"已追偿", "理赔结果与追偿", "450000.00 元", "2026-12-08 09:00:00", "投标单位赔付",
		`href="https://fi.example.cn/v/a.pdf"`, "2027-01-15 10:00:00"} {
		if !strings.Contains(page, want) {
			t.Errorf("the platform's application page lacks %q", want)
		}
	}
}

// paidWithVouchers records claim id's outcome as paid with the transfer
// vouchers at urls, waits for the platform's 已赔付 and for the fetch of
// every voucher to settle (fetched or failed), and returns the platform's
// record of the outcome.
func paidWithVouchers(t *testing.T, s *harness.System, id, applyNo string, urls []string) *platform.ClaimOutcome {
	t.Helper()
	mustRecord(t, s, "/api/claims/"+id+"/outcome", map[string]any{"status": "paid", "amount": "300000.00",
		"date": "2026-12-08 09:00:00", "way": "1", "transfer_date": "2026-12-08 09:05:00", "vouchers": urls}, institution.ClaimPaid)
	s.WaitPlat(applyNo, platform.Compensated, 20*time.Second)
	var o *platform.ClaimOutcome
	s.Eventually("the vouchers tried", 20*time.Second, func() bool {
		list := outcomes(t, s, applyNo)
		if len(list) != 1 || len(list[0].FileStatus) != len(urls) {
			t.Fatalf("outcomes: %+v", list)
		}
		o = list[0]
		for _, f := range o.FileStatus {
			if f.Status == service.FilePending {
				return false
			}
		}
		return true
	})
	return o
}
