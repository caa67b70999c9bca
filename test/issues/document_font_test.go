package issues

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd"
)

// TestIssuedGuaranteeDrawsCleanly: the guarantee and its attached
// agreement set every ASCII glyph in a 0.5 em slot (SimSun's half-width
// Latin) and carried no font, so a reader without SimSun drew wide letters
// over each other (the console showed WTBH… and 91110000MA01BIDD01
// overlapping); [institution] address and phone were printed nowhere.
// Over HTTP, the ciphertext guarantee the platform receives, and the
// agreement inside it, must carry the font every text object is set in
// (FontFile), read here with golang.org/x/image's sfnt, with every glyph
// advanced at least its own width; and the guarantee prints the address
// and the phone.
func TestIssuedGuaranteeDrawsCleanly(t *testing.T) {
	const addr, phone = "北京市WWMM区MMWW大道100号", "010-WWMM8888"
	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(256<<10), harness.WithInstitutionConfig(func(c *institution.Config) {
		c.Institution.Address, c.Institution.Phone = addr, phone
	}))
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	rc, _, err := s.Plat.OpenGuarantee(context.Background(), applyNo, 1)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := readOFD(t, doc)
	text := d.Text()
	for _, want := range []string{"担保人地址：" + addr, "联系电话：" + phone} {
		if !strings.Contains(strings.ReplaceAll(text, "\n", ""), want) {
			t.Errorf("the guarantee does not print %q", want)
		}
	}
	for _, p := range fontProblems(d) {
		t.Errorf("guarantee: %s", p)
	}
	agreement, ok := d.Attachment(institution.AgreementAttachment)
	if !ok {
		t.Fatal("no agreement attached")
	}
	for _, p := range fontProblems(readOFD(t, agreement.Data)) {
		t.Errorf("agreement: %s", p)
	}
}

func readOFD(t *testing.T, doc []byte) *ofd.Document {
	t.Helper()
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fontProblems lists the text objects whose font the document does not
// carry, and the glyphs whose DeltaX is narrower than the glyph's advance
// in the carried font (at most 5 of each).
func fontProblems(d *ofd.Document) []string {
	var out []string
	missing, narrow := 0, 0
	fonts := map[uint64]*sfnt.Font{}
	var buf sfnt.Buffer
	for _, pg := range d.Pages {
		for _, o := range pg.Objects {
			to, ok := o.(*ofd.TextObject)
			if !ok {
				continue
			}
			f, ok := fonts[to.Font]
			if !ok {
				if fd := d.Fonts[to.Font]; fd != nil && fd.Embedded != "" {
					if data, ok := d.Package.File(fd.Embedded); ok {
						f, _ = sfnt.Parse(data)
					}
				}
				fonts[to.Font] = f
			}
			if f == nil {
				if missing++; missing <= 5 {
					out = append(out, fmt.Sprintf("%q: font %d is not carried in the document", to.Text(), to.Font))
				}
				continue
			}
			upem := fixed.Int26_6(f.UnitsPerEm()) << 6
			for _, c := range to.Codes {
				rs := []rune(c.Text)
				for i := 0; i < len(rs)-1 && i < len(c.DeltaX); i++ {
					g, err := f.GlyphIndex(&buf, rs[i])
					if err != nil || g == 0 {
						continue
					}
					adv, err := f.GlyphAdvance(&buf, g, upem, font.HintingNone)
					if err != nil {
						continue
					}
					w := float64(adv) / 64 / float64(f.UnitsPerEm()) * to.Size
					if c.DeltaX[i] < w-1e-3 {
						if narrow++; narrow <= 5 {
							out = append(out, fmt.Sprintf("%q in %q: DeltaX %.3f mm, the glyph advances %.3f mm", rs[i], c.Text, c.DeltaX[i], w))
						}
					}
				}
			}
		}
	}
	return out
}
