package guarantee

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/ofd"
)

// CipherAttachmentName is the name under which Merge carries the sealed
// ciphertext guarantee.
const CipherAttachmentName = "密文保函.ofd"

// Attach adds a file to an unsigned document (a guarantee before it is
// sealed): Attachments.xml lists it under name, its bytes go in
// Doc_0/Attachs. The pages and the other attachments are carried over;
// a sealed document is refused, since any change would break its seals.
func Attach(doc []byte, name string, file []byte) ([]byte, error) {
	d, err := read(doc)
	if err != nil {
		return nil, fmt.Errorf("guarantee: attach: %w", err)
	}
	format := strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")
	pkg, err := ofd.Rebuild(d, []ofd.Attachment{{Name: name, Format: format, Data: file, Created: latest(d.Package)}}, latest(d.Package))
	if err != nil {
		return nil, fmt.Errorf("guarantee: attach %q: %w", name, err)
	}
	return pkg.Bytes()
}

// Merge makes the plaintext guarantee document (filetype 2): the pages of
// plain (a guarantee built in plain, unsigned), then the pages of cipher
// (the sealed ciphertext guarantee, filetype 1) each marked "附：密文保函",
// the attachments of both, and the sealed ciphertext guarantee itself,
// byte for byte, as the attachment 密文保函.ofd, so that its original
// seal stays verifiable. The result is unsigned: the institution seals it
// again with Seal, which stamps every seal area, on the plaintext and on
// the ciphertext pages.
func Merge(plain, cipher []byte) ([]byte, error) {
	pd, err := read(plain)
	if err != nil {
		return nil, fmt.Errorf("guarantee: merge: plaintext guarantee: %w", err)
	}
	if len(pd.SignatureRef) > 0 {
		return nil, fmt.Errorf("guarantee: merge: the plaintext guarantee is already sealed; merge the unsigned one, then seal")
	}
	cd, err := read(cipher)
	if err != nil {
		return nil, fmt.Errorf("guarantee: merge: ciphertext guarantee: %w", err)
	}
	created := latest(pd.Package)
	b := ofd.NewBuilder(ofd.Info{
		Title: pd.Info.Title, Author: pd.Info.Author, Subject: pd.Info.Subject,
		Creator: pd.Info.Creator, Keywords: pd.Info.Keywords, Custom: pd.Info.Custom, Created: created,
	})
	b.SetPageSize(pd.PhysicalBox)
	// The pages of both documents set in the embedded font come onto
	// this one font, whose subset covers them all.
	font := documentFont(b)
	for _, p := range pd.Pages {
		if _, err := b.ImportPage(pd, p); err != nil {
			return nil, fmt.Errorf("guarantee: merge: plaintext guarantee: %w", err)
		}
	}
	note := ofd.TextStyle{Font: font, Size: smallSize, Color: gray}
	for i, p := range cd.Pages {
		pb, err := b.ImportPage(cd, p)
		if err != nil {
			return nil, fmt.Errorf("guarantee: merge: ciphertext guarantee: %w", err)
		}
		pb.TextIn(marginLeft, 10, contentWidth, note, ofd.Right, fmt.Sprintf("附：密文保函（第 %d 页 / 共 %d 页）", i+1, len(cd.Pages)))
	}
	seen := map[string][]byte{}
	for _, src := range []*ofd.Document{pd, cd} {
		for _, a := range src.Attachments {
			if prev, ok := seen[a.Name]; ok {
				if bytes.Equal(prev, a.Data) {
					continue
				}
				return nil, fmt.Errorf("guarantee: merge: two different attachments named %q", a.Name)
			}
			seen[a.Name] = a.Data
			c := *a
			c.ID, c.Path = 0, ""
			if err := b.Attach(c); err != nil {
				return nil, fmt.Errorf("guarantee: merge: %w", err)
			}
		}
	}
	if _, dup := seen[CipherAttachmentName]; !dup {
		if err := b.Attach(ofd.Attachment{Name: CipherAttachmentName, Format: "ofd", Data: cipher, Created: latest(cd.Package), Usage: "密文保函（原件，含原电子签章）"}); err != nil {
			return nil, fmt.Errorf("guarantee: merge: %w", err)
		}
	}
	return b.Bytes()
}

func read(doc []byte) (*ofd.Document, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	return ofd.Read(pkg)
}

// latest is the newest entry time of a package: the clock of documents
// derived from it, so that the same inputs give the same bytes.
func latest(p *ofd.Package) time.Time {
	var t time.Time
	for _, e := range p.Entries() {
		if e.Modified.After(t) {
			t = e.Modified
		}
	}
	return t
}
