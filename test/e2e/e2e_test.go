// Package e2e tests this project's platform and institution together, in
// one process, over real HTTP on loopback: the full life of one
// guarantee, on SQLite and on PostgreSQL.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store/storetest"
)

func TestGuaranteeLifeSQLite(t *testing.T) { testGuaranteeLife(t, "", "") }

func TestGuaranteeLifePostgres(t *testing.T) {
	testGuaranteeLife(t, storetest.FreshSchema(t), storetest.FreshSchema(t))
}

func testGuaranteeLife(t *testing.T, platDB, instDB string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := harness.Start(t, harness.Quiet(), harness.WithDB(platDB, instDB), harness.WithChunkSize(16<<10))
	p, inst := sys.Plat, sys.Inst

	// A section opening in a few seconds, and a bidder with a certificate
	// from the test CA.
	bidder, err := sys.PKI.CA.Issue("某某建设工程有限公司", "bidder")
	if err != nil {
		t.Fatal(err)
	}
	opening := time.Now().Add(4 * time.Second).Truncate(time.Second).Add(time.Second)
	const sectionName = "城南污水处理厂提标改造工程施工"
	sec := platform.SectionInput{No: "BD-E2E-0001", Name: sectionName, Tenderer: "某市城市建设投资集团有限公司",
		TendererCode: "91330100MA2CTY001W", BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: opening}
	if _, err := p.RegisterSection(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RegisterBidder(ctx, platform.BidderInput{Name: bidder.Name, CreditCode: bidder.CreditCode, CertPEM: string(bidder.CertPEM)}); err != nil {
		t.Fatal(err)
	}

	// baohanapply: the platform applies; the institution answers with the
	// redirecturl.
	a, err := p.Apply(ctx, platform.ApplyInput{SectionNo: sec.No, BidderCode: bidder.CreditCode, Institution: harness.InstitutionName, Product: harness.Product})
	if err != nil {
		t.Fatal(err)
	}
	no := a.ApplyNo
	a = waitPlatform(t, ctx, p, no, func(a *platform.Application) bool { return a.RedirectURL != "" })
	redirect := a.RedirectURL
	if !strings.HasPrefix(redirect, sys.InstitutionURL()+"/") {
		t.Fatalf("redirecturl %q is not the institution's", redirect)
	}

	// The bidder, behind the redirecturl: opens the envelope with its key,
	// signs the agreement, pays.
	var view struct {
		State           string `json:"state"`
		DigitalEnvelope string `json:"digitalenvelope"`
		Next            string `json:"next"`
		BaohanNo        string `json:"baohanno"`
		Application     *struct {
			BidderCode string `json:"biddercode"`
			Bond       string `json:"bzjamount"`
			Premium    string `json:"premium"`
		} `json:"application"`
	}
	call(t, ctx, "GET", redirect, nil, &view)
	if view.Next != "open" {
		t.Fatalf("bidder view: %+v", view)
	}
	key, err := gm.UnwrapKey(bidder.Key, view.DigitalEnvelope, gm.C1C3C2)
	if err != nil {
		t.Fatalf("the bidder cannot open the envelope: %v", err)
	}
	call(t, ctx, "POST", redirect+"/open", map[string]string{"key": base64.StdEncoding.EncodeToString(key)}, &view)
	if view.Application == nil || view.Application.BidderCode != bidder.CreditCode || view.Application.Bond != "800000.00" || view.Application.Premium != "4000.00" {
		t.Fatalf("opened application: %+v", view.Application)
	}
	var agreement []byte
	call(t, ctx, "GET", redirect+"/agreement", nil, &agreement)
	seal, err := ses.MakeSeal(bidder.Key, bidder.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: bidder.Name,
		Holders: []*smx509.Certificate{bidder.Cert}, ValidStart: bidder.Cert.NotBefore, ValidEnd: bidder.Cert.NotAfter})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ses.Sign(agreement, ses.Signer{Key: bidder.Key, Cert: bidder.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	call(t, ctx, "POST", redirect+"/agreement", signed, &view)
	call(t, ctx, "POST", redirect+"/pay", map[string]string{}, &view)
	if view.State != string(institution.Approved) && view.State != string(institution.Issued) {
		t.Fatalf("after paying: %+v", view)
	}

	// baohannotice, then the ciphertext guarantee in chunks.
	a = waitPlatform(t, ctx, p, no, inState(platform.CipherReceived))
	if a.Notice == nil || a.Notice.ApplyStatus != "1" || a.Notice.Cost != "4000.00" || a.Notice.Rate != "0.005" || a.BaohanNo == "" {
		t.Fatalf("notice at the platform: %+v", a.Notice)
	}
	if a.BaohanNo != view.BaohanNo {
		t.Errorf("baohanno: platform %s, institution %s", a.BaohanNo, view.BaohanNo)
	}

	// The bid opening: the scheduler sends baohanrestore at kaibiaotime,
	// never before; the plaintext guarantee follows.
	a = waitPlatform(t, ctx, p, no, inState(platform.PlainReceived))
	if now := time.Now(); now.Before(opening) {
		t.Fatalf("restored at %s, before the bid opening at %s", now, opening)
	}
	ia, err := inst.ApplicationByApplyNo(ctx, harness.PlatformName, no)
	if err != nil {
		t.Fatal(err)
	}
	if ia.State != institution.Restored && ia.State != institution.Restoring {
		t.Errorf("institution state %s", ia.State)
	}

	// The platform holds both guarantees; their seals verify against the
	// test CA's root; the plaintext one shows the project, the ciphertext
	// one does not.
	roots := smx509.NewCertPool()
	roots.AddCert(sys.PKI.CA.Cert)
	for _, ft := range []int{1, 2} {
		rc, g, err := p.OpenGuarantee(ctx, no, ft)
		if err != nil {
			t.Fatalf("filetype %d: %v", ft, err)
		}
		doc, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ses.Verify(doc, roots)
		if err != nil {
			t.Fatalf("filetype %d: %v", ft, err)
		}
		if !rep.OK() || !rep.TrustChecked || len(rep.Signatures) == 0 {
			t.Fatalf("filetype %d: seals do not verify: %+v", ft, rep.Signatures)
		}
		if rep.Signatures[0].Signer != harness.InstitutionName {
			t.Errorf("filetype %d: signed by %q", ft, rep.Signatures[0].Signer)
		}
		pkg, err := ofd.Open(doc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ofd.Read(pkg)
		if err != nil {
			t.Fatal(err)
		}
		shows := strings.Contains(d.Text(), sectionName)
		if (ft == 2) != shows {
			t.Errorf("filetype %d: section name shown: %v", ft, shows)
		}
		if g.BaohanNo != a.BaohanNo {
			t.Errorf("filetype %d: baohanno %s", ft, g.BaohanNo)
		}
		os.WriteFile(filepath.Join(sys.Dir, fmt.Sprintf("guarantee-%d.ofd", ft)), doc, 0o600)
	}

	// invoiceapply → invoicenotice, then a claim.
	if _, err := p.RequestInvoice(ctx, no, platform.InvoiceInput{Type: protocol.InvoiceOrdinary}); err != nil {
		t.Fatal(err)
	}
	a = waitPlatform(t, ctx, p, no, inState(platform.Invoiced))
	if a.Invoice == nil || a.Invoice.InvoiceNo == "" || a.Invoice.Status != "1" {
		t.Errorf("invoice: %+v", a.Invoice)
	}
	if _, err := p.Claim(ctx, no, platform.ClaimInput{ApplyUserName: "某招标代理有限公司", ApplyUserPhone: "0571-88880000",
		PayerAmount: decimal.RequireFromString("800000.00"), FileList: []string{"https://ggzy.example.cn/claims/1.pdf"}}); err != nil {
		t.Fatal(err)
	}
	waitPlatform(t, ctx, p, no, inState(platform.Claimed))

	// Every exchange got a JSON answer; refusals are retried by the
	// outbox (a plaintext chunk can arrive before the platform recorded
	// the institution's answer to baohanrestore), and are logged here.
	// The platform's message log chain is intact.
	used := map[protocol.Interface]bool{}
	for _, e := range sys.Wire() {
		i, ok := protocol.Lookup(path.Base(e.Path))
		if !ok || e.Method != http.MethodPost {
			continue
		}
		var applyNo string
		if req, err := protocol.ParseRequest(e.Request); err == nil {
			applyNo = req.Get("applyno")
		}
		r, ok := harness.Answer(e.Response)
		switch {
		case !ok:
			t.Errorf("exchange %s %s: HTTP %d, not a JSON answer", i, applyNo, e.Status)
		case r.Code == protocol.CodeOK:
			used[i] = true
		default:
			t.Logf("refused, then retried: %s %s: %s", i, applyNo, r.Message)
		}
	}
	for _, i := range []protocol.Interface{protocol.BaohanApply, protocol.BaohanNotice, protocol.DownloadPublicKey, protocol.UploadBaohanFile,
		protocol.BaohanFileCompleteNotice, protocol.BaohanRestore, protocol.InvoiceApply, protocol.InvoiceNotice, protocol.ClaimsNotice} {
		if !used[i] {
			t.Errorf("%s was never exchanged", i)
		}
	}
	if brk, err := p.MessageLog().VerifyChain(ctx); err != nil || brk != nil {
		t.Errorf("platform message log: %v %+v", err, brk)
	}
}

func inState(s platform.State) func(*platform.Application) bool {
	return func(a *platform.Application) bool { return a.State == s }
}

// waitPlatform polls the platform's application until cond holds.
func waitPlatform(t *testing.T, ctx context.Context, p *platform.Service, no string, cond func(*platform.Application) bool) *platform.Application {
	t.Helper()
	var a *platform.Application
	for {
		var err error
		if a, err = p.Application(ctx, no); err != nil {
			t.Fatal(err)
		}
		if cond(a) {
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: application %s is %s (%s) %s", no, a.State, a.StateLabel, a.LastMessage)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// call sends a JSON (or raw []byte) body and decodes the JSON (or raw
// *[]byte) answer, failing on anything but 2xx.
func call(t *testing.T, ctx context.Context, method, u string, body any, out any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(ctx, method, u, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d %s", method, u, resp.StatusCode, b)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v: %.300s", method, u, err, b)
	}
}
