// Package inspect reports on an OFD document for people and scripts, as
// `baohan ofd verify` and `baohan ofd info` print it: Verify checks every
// signature (ofd/ses) and says in one message whether the document
// holds; Describe lists its metadata, pages with their text, attachments
// and signatures. Each report prints as text (WriteText) or marshals to
// JSON.
package inspect

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// Signature is one signature's result.
type Signature struct {
	ID        string      `json:"id"`
	Type      string      `json:"type"`
	Signature string      `json:"signature"`
	Signer    string      `json:"signer"`
	SealName  string      `json:"seal_name,omitempty"`
	SealMaker string      `json:"seal_maker,omitempty"`
	Time      string      `json:"time,omitempty"` // UTC+8, "2006-01-02 15:04:05 -0700"
	OK        bool        `json:"ok"`
	Stamps    []string    `json:"stamps,omitempty"`
	Failure   *ses.Check  `json:"failure,omitempty"`
	Checks    []ses.Check `json:"checks"`

	result *ses.Result
}

func signature(r *ses.Result) Signature {
	s := Signature{ID: r.ID, Type: r.Type, Signature: r.Path, Signer: r.Signer, SealName: r.SealName, SealMaker: r.SealMaker,
		OK: r.OK(), Stamps: r.Stamps, Failure: r.Failure(), Checks: r.Checks, result: r}
	if !r.Time.IsZero() {
		s.Time = r.Time.In(ses.CST).Format("2006-01-02 15:04:05 -0700")
	}
	return s
}

// Verification is the report of Verify.
type Verification struct {
	File         string      `json:"file"`
	OK           bool        `json:"ok"`
	Message      string      `json:"message"` // the verdict in one sentence
	TrustChecked bool        `json:"trust_checked"`
	Signatures   []Signature `json:"signatures"`
	Unprotected  []string    `json:"unprotected,omitempty"` // entries no signature covers
}

// Verify checks every signature of the document doc, named name in the
// report. With roots the certificates must chain to them and validity
// periods are enforced; without, chains are not checked and expired
// certificates are warnings. A document without signatures is a report
// that is not OK; an error says the document could not be read.
func Verify(name string, doc []byte, roots *smx509.CertPool) (*Verification, error) {
	v := &Verification{File: name, Signatures: []Signature{}}
	rep, err := ses.Verify(doc, roots)
	if errors.Is(err, ses.ErrNotSigned) {
		v.Message = "no signatures: the document is not signed, nothing is verified"
		return v, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v.OK, v.TrustChecked, v.Unprotected = rep.OK(), rep.TrustChecked, rep.Unprotected
	failed := 0
	for _, r := range rep.Signatures {
		s := signature(r)
		if !s.OK {
			failed++
		}
		v.Signatures = append(v.Signatures, s)
	}
	switch n := len(rep.Signatures); {
	case v.OK && rep.TrustChecked:
		v.Message = fmt.Sprintf("verified: %d signature(s) hold, certificates chain to the given roots", n)
	case v.OK:
		v.Message = fmt.Sprintf("verified: %d signature(s) hold (integrity and signatures; chains not checked without --roots)", n)
	default:
		v.Message = fmt.Sprintf("NOT verified: %d of %d signature(s) fail", failed, n)
	}
	return v, nil
}

// WriteText prints one line per signature (ID, signer, time, ok or the
// first failed check), a warning per unprotected entry and the verdict.
func (v *Verification) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range v.Signatures {
		b.WriteString(s.line(v.TrustChecked) + "\n")
	}
	for _, u := range v.Unprotected {
		fmt.Fprintf(&b, "warning: %s is not protected by any signature (added after signing?)\n", u)
	}
	fmt.Fprintf(&b, "%s: %s\n", v.File, v.Message)
	_, err := io.WriteString(w, b.String())
	return err
}

// line is "signature 1 (Seal) by NAME at TIME: ok|FAIL ...".
func (s *Signature) line(trust bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "signature %s (%s) by %q at %s: ", s.ID, s.Type, s.Signer, s.Time)
	if f := s.result.Failures(); len(f) > 0 {
		fmt.Fprintf(&b, "FAIL %s %s: %s", f[0].Name, f[0].Entry, f[0].Detail)
		if len(f) > 1 {
			fmt.Fprintf(&b, " (and %d more failed checks)", len(f)-1)
		}
		return b.String()
	}
	b.WriteString("ok")
	if s.SealName != "" {
		fmt.Fprintf(&b, ", seal %q", s.SealName)
	}
	if len(s.Stamps) > 0 {
		fmt.Fprintf(&b, " on %s", strings.Join(s.Stamps, ", "))
	}
	if !trust {
		b.WriteString("; chain not checked (untrusted root: no --roots)")
	}
	for _, c := range s.result.Warnings() {
		fmt.Fprintf(&b, "; warning %s: %s", c.Name, c.Detail)
	}
	return b.String()
}

// Info is the report of Describe.
type Info struct {
	File        string            `json:"file"`
	DocID       string            `json:"doc_id"`
	Title       string            `json:"title,omitempty"`
	Creator     string            `json:"creator,omitempty"`
	Created     string            `json:"created,omitempty"`
	Custom      map[string]string `json:"custom,omitempty"`
	Pages       []Page            `json:"pages"`
	Attachments []Attachment      `json:"attachments"`
	Signatures  []Signature       `json:"signatures"` // without their checks

	doc *ofd.Document
}

// Page is a page of Info.
type Page struct {
	Index int    `json:"page"` // from 1
	ID    uint64 `json:"id"`
	Size  string `json:"size_mm"` // W×H
	Text  string `json:"text,omitempty"`
}

// Attachment is an attachment of Info.
type Attachment struct {
	Name   string  `json:"name"`
	Format string  `json:"format,omitempty"`
	Bytes  int     `json:"bytes"`
	SizeKB float64 `json:"size_kb"` // as the document declares it
	Path   string  `json:"path"`
}

// Describe reads the document doc, named name in the report; with text
// the pages' text is included. Signatures are checked for integrity
// only (no trust roots).
func Describe(name string, doc []byte, text bool) (*Info, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	in := &Info{File: name, DocID: d.Info.DocID, Title: d.Info.Title, Creator: d.Info.Creator, Created: d.Info.CreationDate,
		Pages: []Page{}, Attachments: []Attachment{}, Signatures: []Signature{}, doc: d}
	if len(d.Info.Custom) > 0 {
		in.Custom = map[string]string{}
		for _, c := range d.Info.Custom {
			in.Custom[c.Name] = c.Value
		}
	}
	for i, p := range d.Pages {
		pg := Page{Index: i + 1, ID: p.ID, Size: ofd.Num(p.Box.W) + "×" + ofd.Num(p.Box.H)}
		if text {
			pg.Text = p.Text()
		}
		in.Pages = append(in.Pages, pg)
	}
	for _, a := range d.Attachments {
		in.Attachments = append(in.Attachments, Attachment{Name: a.Name, Format: a.Format, Bytes: len(a.Data), SizeKB: a.SizeKB, Path: "/" + a.Path})
	}
	if len(d.SignatureRef) > 0 {
		if rep, err := ses.VerifyPackage(pkg, nil); err == nil {
			for _, r := range rep.Signatures {
				s := signature(r)
				s.Checks = nil
				in.Signatures = append(in.Signatures, s)
			}
		}
	}
	return in, nil
}

// WriteText prints the report for a person.
func (in *Info) WriteText(w io.Writer) error {
	var b strings.Builder
	d := in.doc
	fmt.Fprintf(&b, "%s: OFD %s, DocID %s\n", in.File, d.Version, d.Info.DocID)
	if d.Info.Title != "" {
		fmt.Fprintf(&b, "title: %s\n", d.Info.Title)
	}
	if d.Info.Creator != "" || d.Info.CreationDate != "" {
		fmt.Fprintf(&b, "created: %s by %s %s\n", d.Info.CreationDate, d.Info.Creator, d.Info.CreatorVersion)
	}
	for _, c := range d.Info.Custom {
		if c.Value != "" {
			fmt.Fprintf(&b, "custom %s: %s\n", c.Name, c.Value)
		}
	}
	fmt.Fprintf(&b, "pages: %d\n", len(in.Pages))
	for _, p := range in.Pages {
		fmt.Fprintf(&b, "page %d (ID %d, %s mm)\n", p.Index, p.ID, p.Size)
		if p.Text != "" {
			for _, line := range strings.Split(p.Text, "\n") {
				fmt.Fprintf(&b, "  | %s\n", line)
			}
		}
	}
	fmt.Fprintf(&b, "attachments: %d\n", len(in.Attachments))
	for _, a := range in.Attachments {
		fmt.Fprintf(&b, "  %s (%s, %d bytes) %s\n", a.Name, a.Format, a.Bytes, a.Path)
	}
	fmt.Fprintf(&b, "signatures: %d\n", len(d.SignatureRef))
	for _, s := range in.Signatures {
		state := "intact"
		if !s.OK {
			state = "BROKEN (" + s.Failure.Name + " " + s.Failure.Entry + ")"
		}
		fmt.Fprintf(&b, "  %s %s by %q at %s, seal %q, %s; stamps: %s\n", s.ID, s.Type, s.Signer, s.Time, s.SealName, state, strings.Join(s.Stamps, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
