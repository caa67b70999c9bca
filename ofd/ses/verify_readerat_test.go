package ses_test

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// largeSigned is a sealed document carrying an attachment of n random
// bytes (an entry far above ofd.LazyThreshold).
func largeSigned(t *testing.T, pki *ofdtest.PKI, n int) []byte {
	t.Helper()
	b := ofd.NewBuilder(ofd.Info{Title: "大文件", Created: signTime})
	b.AddPage().Text(25, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 5}, "保函")
	data := make([]byte, n)
	rand.Read(data)
	if err := b.Attach(ofd.Attachment{Name: "padding.bin", Format: "bin", Data: data}); err != nil {
		t.Fatal(err)
	}
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ses.Sign(doc, institutionSigner(t, pki), ses.SignOptions{Time: signTime, Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 130, Y: 200, W: 40, H: 40}}}})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestVerifyReaderAt(t *testing.T) {
	pki := ofdtest.NewPKI(t)
	const n = 4 << 20
	signed := largeSigned(t, pki, n)
	pkg, err := ofd.Open(signed)
	if err != nil {
		t.Fatal(err)
	}
	var attach string
	for _, e := range pkg.Entries() {
		if e.Size() > ofd.LazyThreshold {
			attach = e.Name
		}
	}
	if attach == "" {
		t.Fatal("no entry above the lazy threshold")
	}

	t.Run("same report as Verify", func(t *testing.T) {
		want, err := ses.Verify(signed, pki.Pool)
		if err != nil || !want.OK() {
			t.Fatalf("Verify: %v", err)
		}
		got, err := ses.VerifyReaderAt(bytes.NewReader(signed), int64(len(signed)), ofd.DefaultLimits, pki.Pool)
		if err != nil {
			t.Fatal(err)
		}
		if !got.OK() || len(got.Signatures) != len(want.Signatures) || len(got.Signatures[0].Checks) != len(want.Signatures[0].Checks) {
			t.Fatalf("VerifyReaderAt: %+v", got.Signatures)
		}
		for i, c := range want.Signatures[0].Checks {
			if got.Signatures[0].Checks[i] != c {
				t.Errorf("check %d: %+v, want %+v", i, got.Signatures[0].Checks[i], c)
			}
		}
	})

	t.Run("tampered large entry", func(t *testing.T) {
		bad := tamper(t, signed, attach, n/2)
		rep, err := ses.VerifyReaderAt(bytes.NewReader(bad), int64(len(bad)), ofd.DefaultLimits, pki.Pool)
		if err != nil {
			t.Fatal(err)
		}
		c := rep.Signatures[0].Failure()
		if c == nil || c.Name != ses.CheckReference || c.Entry != "/"+attach || !strings.Contains(c.Detail, "entry changed") {
			t.Fatalf("failure %+v", c)
		}
	})

	t.Run("memory does not grow with the entry", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rep, err := ses.VerifyReaderAt(bytes.NewReader(signed), int64(len(signed)), ofd.DefaultLimits, pki.Pool)
		runtime.ReadMemStats(&after)
		if err != nil || !rep.OK() {
			t.Fatalf("%v", err)
		}
		// Eagerly, the attachment alone is n bytes.
		if got := after.TotalAlloc - before.TotalAlloc; got > n/4 {
			t.Errorf("allocated %d bytes verifying a %d-byte entry", got, n)
		}
	})
}
