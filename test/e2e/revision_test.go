package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// revisionOrder is the revision and the message order (docs/PROFILE.md)
// given to both sides, each configured for the other.
type revisionOrder struct {
	name        string
	revision    string
	uploadFirst bool
}

func (d revisionOrder) apply(p *config.Peer) {
	p.Revision = d.revision
	p.UploadFirst = d.uploadFirst
}

// TestLifecycleInRevision runs the whole life of a guarantee (apply,
// bidder, notice, ciphertext guarantee, restore at the opening,
// plaintext guarantee, invoice) between the platform and the institution
// configured for each other in each revision and message order, and
// checks what went over the wire.
func TestLifecycleInRevision(t *testing.T) {
	for _, d := range []revisionOrder{
		{name: "envelope", revision: "envelope"},
		{name: "flat", revision: "flat"},
		{name: "upload_first", revision: "envelope", uploadFirst: true},
		{name: "flat,upload_first", revision: "flat", uploadFirst: true},
	} {
		t.Run(d.name, func(t *testing.T) { revisionLifecycle(t, d) })
	}
}

func revisionLifecycle(t *testing.T, d revisionOrder) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(d.apply), harness.WithInstitutionPeer(d.apply))
	ctx := context.Background()
	flat := d.revision == "flat"
	if flat {
		// The flat revision carries contacts the stack's bidder was
		// registered without.
		sec := s.Section(time.Hour)
		_, err := s.Plat.Apply(ctx, platform.ApplyInput{SectionNo: sec.No, BidderCode: harness.BidderCode, Institution: harness.InstitutionName, Product: harness.Product})
		if err == nil || !strings.Contains(err.Error(), "contact_name") || !strings.Contains(err.Error(), "insured_address") {
			t.Errorf("flat application without the contacts: %v, want a refusal naming contact_name ... insured_address", err)
		}
	}
	// The flat revision carries contacts: the bidder's and the insured
	// party's.
	if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: harness.BidderName, CreditCode: harness.BidderCode,
		CertPEM: string(s.PKI.Bidder.CertPEM), ContactName: "张三", ContactPhone: "13800000000"}); err != nil {
		t.Fatal(err)
	}
	sec, err := s.Plat.RegisterSection(ctx, platform.SectionInput{No: "BD-DIALECT-1", Name: "城南污水处理厂提标改造工程施工",
		Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W", BondAmount: decimal.RequireFromString("800000.00"),
		KaibiaoTime:    s.Clock.Now().Add(time.Hour).Truncate(time.Second),
		InsuredContact: "李四", InsuredPhone: "0571-88880000", InsuredAddress: "某市某区某路1号"})
	if err != nil {
		t.Fatal(err)
	}
	applyNo := s.Issued(sec.No, 20*time.Second)
	s.Clock.Advance(time.Hour + time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 20*time.Second)
	s.WaitInst(applyNo, institution.Restored, 20*time.Second)
	if !d.uploadFirst {
		if msg := harness.CheckHappyHistory(ctx, s.Plat.DB(), s.Inst.DB(), applyNo); msg != "" {
			t.Errorf("histories: %s", msg)
		}
	} else {
		// The file is held until the notice takes it.
		got, err := harness.PlatformEvents(ctx, s.Plat.DB(), applyNo)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"apply", "apply_accepted", "public_key_issued", "approved", "cipher_released", "restored", "plain_received"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("platform history %v, want %v", got, want)
		}
	}
	if _, err := s.Plat.RequestInvoice(ctx, applyNo, platform.InvoiceInput{Type: protocol.InvoiceOrdinary}); err != nil {
		t.Fatal(err)
	}
	s.WaitPlat(applyNo, platform.Invoiced, 20*time.Second)

	// What went over the wire: the order of the notice and the file.
	var order []string
	for _, ex := range s.PlatDoor.Exchanges() {
		r, ok := harness.Answer(ex.Response)
		if !ok || r.Code != 1 {
			continue
		}
		switch ex.Path {
		case "/" + string(protocol.BaohanNotice):
			order = append(order, "notice")
		case "/" + string(protocol.BaohanFileCompleteNotice):
			var f map[string]string
			json.Unmarshal(ex.Request, &f)
			if e := "filetype" + f["filetype"]; len(order) == 0 || order[len(order)-1] != e { // a repeated notice once
				order = append(order, e)
			}
		}
	}
	wantOrder := "notice filetype1 filetype2"
	if d.uploadFirst {
		wantOrder = "filetype1 notice filetype2"
	}
	if got := strings.Join(order, " "); got != wantOrder {
		t.Errorf("baohannotice and the guarantee files reached the platform in the order %q, want %q", got, wantOrder)
	}
	apply := sent(t, s.InstDoor, protocol.BaohanApply)
	restore := sent(t, s.InstDoor, protocol.BaohanRestore)
	if flat {
		for _, k := range []string{"applydata", "digitalenvelope", "platformcode"} {
			if _, ok := apply[k]; ok {
				t.Errorf("flat baohanapply carries %s", k)
			}
		}
		for _, k := range protocol.FlatApplyFields {
			if k.Required && apply[k.Name] == "" {
				t.Errorf("flat baohanapply lacks %s (%s)", k.Name, k.Meaning)
			}
		}
		if apply["biddername"] != harness.BidderName || apply["biddercontactname"] != "张三" || apply["bzjamount"] != "800000.00" {
			t.Errorf("flat baohanapply: plain fields %q %q %q", apply["biddername"], apply["biddercontactname"], apply["bzjamount"])
		}
		for _, k := range protocol.FlatEncrypted {
			if v := apply[k]; v != "" && (strings.Contains(v, "某") || strings.Contains(v, "BD-")) {
				t.Errorf("flat baohanapply: %s is in the clear: %q", k, v)
			}
		}
		if restore["bzjenddate"] != protocol.FormatTime(sec.KaibiaoTime) {
			t.Errorf("flat baohanrestore: bzjenddate %q, want the opening %s", restore["bzjenddate"], protocol.FormatTime(sec.KaibiaoTime))
		}
		if _, ok := restore["platformcode"]; ok {
			t.Error("flat baohanrestore carries platformcode")
		}
		// The plaintext guarantee prints the deposit deadline.
		rc, _, err := s.Plat.OpenGuarantee(ctx, applyNo, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := ofd.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := ofd.Read(pkg)
		if err != nil {
			t.Fatal(err)
		}
		kb := sec.KaibiaoTime.In(protocol.CST)
		if want := fmt.Sprintf("%d年%d月%d日 %s", kb.Year(), int(kb.Month()), kb.Day(), kb.Format("15:04")); !strings.Contains(doc.Text(), "投标截止时间") || !strings.Contains(doc.Text(), want) {
			t.Errorf("the plaintext guarantee does not print 投标截止时间 %s: %s", want, doc.Text())
		}
	} else {
		if apply["applydata"] == "" || apply["digitalenvelope"] == "" || apply["biddername"] != "" {
			t.Errorf("envelope baohanapply: %v", apply)
		}
		if _, ok := restore["bzjenddate"]; ok {
			t.Error("envelope baohanrestore carries bzjenddate")
		}
	}
}

// sent returns the fields of the first request to interface i through
// door that was answered code 1.
func sent(t *testing.T, door *harness.Door, i protocol.Interface) map[string]string {
	t.Helper()
	for _, ex := range door.Exchanges() {
		if ex.Path != "/"+string(i) {
			continue
		}
		if r, ok := harness.Answer(ex.Response); !ok || r.Code != 1 {
			continue
		}
		var f map[string]string
		if err := json.Unmarshal(ex.Request, &f); err != nil {
			t.Fatalf("%s: %v", i, err)
		}
		return f
	}
	t.Fatalf("no %s was answered code 1", i)
	return nil
}

// TestRevisionMismatchNamed: a platform and an institution configured for
// different revisions do not get far: the institution refuses the
// baohanapply naming what its revision needs, and the platform shows it.
func TestRevisionMismatchNamed(t *testing.T) {
	for _, c := range []struct{ platform, institution, want string }{
		{"flat", "envelope", `"applydata"`},
		{"envelope", "flat", `"biddername"`},
	} {
		t.Run("platform "+c.platform+", institution "+c.institution, func(t *testing.T) {
			s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(func(p *config.Peer) { p.Revision = c.platform }), harness.WithInstitutionPeer(func(p *config.Peer) { p.Revision = c.institution }))
			ctx := context.Background()
			if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: harness.BidderName, CreditCode: harness.BidderCode,
				CertPEM: string(s.PKI.Bidder.CertPEM), ContactName: "张三", ContactPhone: "13800000000"}); err != nil {
				t.Fatal(err)
			}
			sec, err := s.Plat.RegisterSection(ctx, platform.SectionInput{No: "BD-MISMATCH-1", Name: "某工程", Tenderer: "某招标人",
				TendererCode: "91330100MA2CTY001W", BondAmount: decimal.RequireFromString("100000.00"),
				KaibiaoTime: s.Clock.Now().Add(time.Hour).Truncate(time.Second), InsuredContact: "李四", InsuredPhone: "0571-88880000", InsuredAddress: "某地"})
			if err != nil {
				t.Fatal(err)
			}
			applyNo := s.Apply(sec.No)
			s.WaitPlat(applyNo, platform.Rejected, 10*time.Second)
			if a := s.PlatApp(applyNo); !strings.Contains(a.LastMessage, c.want) {
				t.Errorf("platform's last message %q, want it to name %s", a.LastMessage, c.want)
			}
		})
	}
}

// TestCipherHeldUntilNotice: a ciphertext guarantee that comes before the
// success notice (upload_first) is held: the application stays applied,
// a notice with another baohanno is refused naming both, and the notice
// with the file's baohanno takes it (cipher_received, the restore
// scheduled). Before the notice the file is refused after the opening
// too.
func TestCipherHeldUntilNotice(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	inst := s.AsInstitution()
	sec := s.Section(time.Hour)
	applyNo := s.Apply(sec.No)
	s.Token(applyNo, 10*time.Second) // the bidder never comes: the real institution stays idle
	baohanNo := "HXDB-HELD-" + applyNo[len(applyNo)-8:]
	doc, err := s.GuaranteeOFD(harness.GuaranteeSpec{ApplyNo: applyNo, BaohanNo: baohanNo})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := inst.Upload(applyNo, baohanNo, protocol.FileTypeCipher, doc, 4096); err != nil || r.Code != 1 {
		t.Fatalf("the ciphertext guarantee before the notice: %+v %v", r, err)
	}
	if st := s.PlatApp(applyNo).State; st != platform.Applied {
		t.Fatalf("after a held file the application is %s, want applied", st)
	}
	notice := func(no string) *protocol.Response {
		t.Helper()
		r, err := inst.Call(protocol.BaohanNotice, map[string]string{"applyno": applyNo, "baohanno": no, "instname": harness.InstitutionName,
			"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := notice("HXDB-OTHER-1"); r.Code != 0 || !strings.Contains(r.Message, "HXDB-OTHER-1") || !strings.Contains(r.Message, baohanNo) {
		t.Errorf("a notice with another baohanno than the held file's: %+v, want code 0 naming both", r)
	}
	if r := notice(baohanNo); r.Code != 1 {
		t.Fatalf("the notice: %+v", r)
	}
	if st := s.PlatApp(applyNo).State; st != platform.CipherReceived {
		t.Errorf("after the notice the application is %s, want cipher_received", st)
	}
	if due := s.PlatApp(applyNo); due.BaohanNo != baohanNo {
		t.Errorf("baohanno %q, want %q", due.BaohanNo, baohanNo)
	}

	// After the opening, a file before the notice is refused.
	late := s.Section(time.Hour)
	lateApply := s.Apply(late.No)
	s.Token(lateApply, 10*time.Second)
	s.Clock.Advance(time.Hour + time.Minute)
	_, r, err := inst.UploadChunks(lateApply, "HXDB-LATE-1", protocol.FileTypeCipher, doc, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 || !strings.Contains(r.Message, "only before the bid opening") {
		t.Errorf("a ciphertext guarantee before the notice, after the opening: %+v", r)
	}
}
