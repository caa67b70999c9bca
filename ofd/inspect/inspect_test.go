package inspect_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/inspect"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
)

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, guarantee.CST)

// documents are a sealed sample guarantee, the same with its page
// changed, and an unsigned document.
func documents(t *testing.T) (pki *ofdtest.PKI, sealed, tampered, unsigned []byte) {
	t.Helper()
	pki = ofdtest.NewPKI(t)
	sealed, err := guarantee.Sample(guarantee.Party{Key: pki.Institution.Key, Cert: pki.Institution.Cert},
		guarantee.Party{Key: pki.Bidder.Key, Cert: pki.Bidder.Cert}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ofd.Open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	const page = "Doc_0/Pages/Page_0/Content.xml"
	data, ok := pkg.File(page)
	if !ok {
		t.Fatalf("no %s", page)
	}
	data = bytes.Replace(data, []byte("</ofd:Page>"), []byte("<!-- changed --></ofd:Page>"), 1)
	if err := pkg.Replace(page, data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if tampered, err = pkg.Bytes(); err != nil {
		t.Fatal(err)
	}
	b := ofd.NewBuilder(ofd.Info{Title: "未签章"})
	b.AddPage().Text(20, 20, ofd.TextStyle{Font: b.Font("宋体", ""), Size: 5}, "你好")
	if unsigned, err = b.Bytes(); err != nil {
		t.Fatal(err)
	}
	return pki, sealed, tampered, unsigned
}

// inOrder writes a report with write and checks that it holds the parts,
// in order; it returns the text.
func inOrder(t *testing.T, write func(io.Writer) error, parts []string) string {
	t.Helper()
	var b strings.Builder
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	rest := b.String()
	for _, want := range parts {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("the text lacks %q (in order):\n%s", want, b.String())
		}
		rest = rest[i+len(want):]
	}
	return b.String()
}

func TestVerify(t *testing.T) {
	pki, sealed, tampered, unsigned := documents(t)
	signer := pki.Institution.Cert.Subject.CommonName
	tests := []struct {
		name   string
		doc    []byte
		trust  bool
		ok     bool
		output []string // parts of the text, in order
	}{
		{"sealed", sealed, false, true, []string{`signature 1 (Seal) by "` + signer + `" at 2026-11-27 10:00:00 +0800: ok`,
			"chain not checked (untrusted root: no --roots)", "g.ofd: verified: 1 signature(s) hold (integrity and signatures; chains not checked without --roots)\n"}},
		{"sealed, chains to the roots", sealed, true, true, []string{": ok", "g.ofd: verified: 1 signature(s) hold, certificates chain to the given roots\n"}},
		{"page changed", tampered, true, false, []string{": FAIL ", "Doc_0/Pages/Page_0/Content.xml", "g.ofd: NOT verified: 1 of 1 signature(s) fail\n"}},
		{"not signed", unsigned, false, false, []string{"g.ofd: no signatures: the document is not signed, nothing is verified\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots := pki.Pool
			if !tt.trust {
				roots = nil
			}
			v, err := inspect.Verify("g.ofd", tt.doc, roots)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK != tt.ok || v.TrustChecked != tt.trust && tt.ok {
				t.Errorf("OK %v, trust checked %v", v.OK, v.TrustChecked)
			}
			inOrder(t, v.WriteText, tt.output)
			j, _ := json.Marshal(v)
			var back inspect.Verification
			if err := json.Unmarshal(j, &back); err != nil || back.OK != v.OK || back.Message != v.Message || len(back.Signatures) != len(v.Signatures) {
				t.Errorf("JSON %s does not read back (%v)", j, err)
			}
		})
	}
	if _, err := inspect.Verify("x.ofd", []byte("not a zip"), nil); err == nil || !strings.HasPrefix(err.Error(), "x.ofd: ") {
		t.Errorf("not an OFD: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	pki, sealed, tampered, unsigned := documents(t)
	signer := pki.Institution.Cert.Subject.CommonName
	tests := []struct {
		name   string
		doc    []byte
		text   bool
		pages  int
		output []string
		absent string
	}{
		{"sealed", sealed, true, 1, []string{"g.ofd: OFD ", "pages: 1\n", "page 1 (ID ", "  | 保函编号 BH20261127100000\n", "attachments: 1\n  " + guarantee.AgreementAttachment,
			"signatures: 1\n", `by "` + signer + `" at 2026-11-27 10:00:00 +0800`, ", intact; stamps: page 1\n"}, ""},
		{"without text", sealed, false, 1, []string{"pages: 1\n", "signatures: 1\n"}, "  | "},
		{"page changed", tampered, true, 1, []string{"BROKEN (", "Doc_0/Pages/Page_0/Content.xml)"}, ""},
		{"not signed", unsigned, true, 1, []string{"title: 未签章\n", "  | 你好\n", "attachments: 0\nsignatures: 0\n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := inspect.Describe("g.ofd", tt.doc, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Pages) != tt.pages {
				t.Errorf("%d pages, want %d", len(in.Pages), tt.pages)
			}
			if text := inOrder(t, in.WriteText, tt.output); tt.absent != "" && strings.Contains(text, tt.absent) {
				t.Errorf("the text has %q:\n%s", tt.absent, text)
			}
			for _, s := range in.Signatures {
				if s.Checks != nil {
					t.Errorf("signature %s carries its checks", s.ID)
				}
			}
		})
	}
	if _, err := inspect.Describe("x.ofd", []byte("not a zip"), true); err == nil || !strings.HasPrefix(err.Error(), "x.ofd: ") {
		t.Errorf("not an OFD: %v", err)
	}
}
