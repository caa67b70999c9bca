package platform

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd/guarantee"
)

// TestSealRules: a guarantee file is refused (code 0, the application
// stays approved) unless it names the application, is sealed with the
// institution's pinned certificate (never a bidder's) over every entry,
// and carries the agreement signed by the application's bidder; each
// refusal names the certificates or values concerned.
func TestSealRules(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.pki
		other, err := p.ca.Issue("另一家融资担保有限公司", testca.Institution)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			doc  func(applyNo, baohanNo string) gdoc
			want func(applyNo, baohanNo string) []string
		}{
			{"sealed with a registered bidder's certificate",
				func(a, b string) gdoc { return gdoc{applyNo: a, baohanNo: b, sealer: p.bidder} },
				fixed(`the certificate of "某某建设工程有限公司"`, "credit code 91110000MA01BDD014", "is the certificate of bidder 某某建设工程有限公司 (91110000MA01BDD014), registered on this platform")},
			{"sealed by another institution",
				func(a, b string) gdoc { return gdoc{applyNo: a, baohanNo: b, sealer: other} },
				fixed("另一家融资担保有限公司", "it names credit code "+other.CreditCode, `institution "bank" seals with credit code `+p.inst.CreditCode)},
			{"without the agreement",
				func(a, b string) gdoc { return gdoc{applyNo: a, baohanNo: b, noAgreement: true} },
				fixed("no agreement (保函委托协议) is attached")},
			{"the agreement signed by another bidder",
				func(a, b string) gdoc { return gdoc{applyNo: a, baohanNo: b, bidder: p.bidder2} },
				func(a, _ string) []string {
					return []string{"attachment 保函委托协议.ofd", "credit code 91110000MA01BDD027", "the bidder of applyno " + a + " is 91110000MA01BDD014"}
				}},
			{"another application's guarantee",
				func(a, _ string) gdoc { return gdoc{applyNo: a, baohanNo: "BH-NO-OTHER"} },
				func(_, b string) []string {
					return []string{`the document's baohanno is "BH-NO-OTHER"`, `the application's is "` + b + `"`}
				}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.with(t)
				a, bn := e.approved(e.section(2 * time.Hour))
				r := e.sendGuarantee(a.ApplyNo, bn, "1", guaranteeOFD(t, p, c.doc(a.ApplyNo, bn)), plainUpload())
				wantFailContains(t, c.name, r, append([]string{"the ciphertext guarantee (filetype 1) is refused: "}, c.want(a.ApplyNo, bn)...)...)
				e.wantState(a.ApplyNo, Approved)
				e.giveupCleanup(a.ApplyNo)
			})
		}
	})
}

func fixed(ws ...string) func(string, string) []string {
	return func(string, string) []string { return ws }
}

// TestSealPins: the institution's seal is pinned by seal_certs, by
// seal_credit_code, or by default by its name as the certificate's
// organisation or common name; a bad seal_certs file stops the start.
func TestSealPins(t *testing.T) {
	dir := t.TempDir()
	p := getPKI(t)
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	instPEM := write("inst.pem", p.inst.CertPEM)
	bidderPEM := write("bidder.pem", p.bidder.CertPEM)
	for _, c := range []struct {
		name string
		pin  func(*Institution)
		want string // "" accepted
	}{
		{"seal_certs holds the seal certificate", func(in *Institution) { in.SealCreditCode, in.SealCerts = "", []string{bidderPEM, instPEM} }, ""},
		{"seal_certs holds others", func(in *Institution) { in.SealCreditCode, in.SealCerts = "", []string{bidderPEM} },
			`it is none of the 1 certificate(s) in seal_certs of institution "bank"`},
		{"seal_certs and seal_credit_code", func(in *Institution) { in.SealCerts = []string{instPEM} }, ""},
		{"by default, the name", func(in *Institution) { in.SealCreditCode = "" },
			`it does not name institution "bank" as its organisation (Subject O) or common name (CN); set seal_credit_code or seal_certs`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "", func(cfg *Config) { c.pin(&cfg.Institutions[0]) })
			a, bn := e.approved(e.section(2 * time.Hour))
			r := e.sendGuarantee(a.ApplyNo, bn, "1", guaranteeOFD(t, p, gdoc{applyNo: a.ApplyNo, baohanNo: bn}), plainUpload())
			if c.want == "" {
				wantOK(t, "upload", r)
				return
			}
			wantFailContains(t, "upload", r, `is signed with the certificate of "某某融资担保有限公司"`, c.want)
		})
	}
	t.Run("a seal_certs file that is not there", func(t *testing.T) {
		cfg := Config{Institutions: []Institution{{Peer: newEnv(t, "").cfg.Institutions[0].Peer, SealCerts: []string{filepath.Join(dir, "none.pem")}}}}
		_, err := cfg.sealPins()
		if err == nil || !strings.Contains(err.Error(), `institution "bank": seal_certs `+filepath.Join(dir, "none.pem")) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestAcceptFailedSeals: accept_failed_seals keeps a guarantee whose
// seals break a rule (recorded, seals_ok false), never another
// application's document.
func TestAcceptFailedSeals(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.AcceptFailedSeals = true })
	a, bn := e.approved(e.section(2 * time.Hour))
	wantFailContains(t, "another application's", e.sendGuarantee(a.ApplyNo, bn, "1", guaranteeOFD(t, e.pki, gdoc{applyNo: "BH-OTHER-APPLY", baohanNo: bn}), plainUpload()),
		`the document's applyno is "BH-OTHER-APPLY"`)
	wantOK(t, "without the agreement", e.sendGuarantee(a.ApplyNo, bn, "1", guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, noAgreement: true}), plainUpload()))
	g, err := e.svc.Guarantee(e.ctx, a.ApplyNo, 1)
	if err != nil {
		t.Fatal(err)
	}
	var v sealVerdict
	if err := json.Unmarshal(g.Report, &v); err != nil {
		t.Fatal(err)
	}
	if g.SealsOK || v.OK || v.Rule != guarantee.RuleAgreement || !strings.Contains(v.Failure, "no agreement") || v.Report == nil || !v.Report.OK() {
		t.Fatalf("seals_ok %v, verdict %+v", g.SealsOK, v)
	}
}

// TestPlaintextCarriesTheCipher: the plaintext guarantee's attached
// ciphertext guarantee must be the one accepted.
func TestPlaintextCarriesTheCipher(t *testing.T) {
	e := newEnv(t, "")
	sec := e.section(time.Hour)
	a, bn := e.withCipher(sec)
	rc, _, err := e.svc.OpenGuarantee(e.ctx, a.ApplyNo, 1)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(sec.KaibiaoTime)
	e.eventually("the restore", func() bool { return e.app(a.ApplyNo).State == Restored })
	forged := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn})
	wantFailContains(t, "another ciphertext guarantee", e.sendGuarantee(a.ApplyNo, bn, "2",
		guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, fileType: 2, cipher: forged}), plainUpload()),
		"the plaintext guarantee (filetype 2) is refused: the attachment 密文保函.ofd is not the ciphertext guarantee accepted for applyno "+a.ApplyNo)
	e.wantState(a.ApplyNo, Restored)
	wantOK(t, "the accepted one", e.sendGuarantee(a.ApplyNo, bn, "2", guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, fileType: 2, cipher: cipher}), plainUpload()))
	e.wantState(a.ApplyNo, PlainReceived)
}
