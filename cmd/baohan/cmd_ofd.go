package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/render"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// The OFD tools: verify the seals of a guarantee, show what a document
// holds, make a sealed sample, draw a page.

func init() {
	register(&command{
		Name:    "ofd verify",
		Summary: "verify every seal and signature of an OFD document (GB/T 38540 v4, SM2/SM3)",
		Usage: "ofd verify FILE [--roots CA.pem] [--json]\n\n" +
			"Checks, for each signature: the SM3 CheckValue of every protected entry, the\n" +
			"dataHash over Signature.xml, the SM2 signature over TBS_Sign, the seal maker's\n" +
			"signature over SES_SealInfo, that the signer's certificate is in the seal, the\n" +
			"seal's validity and the certificates' validity at the signing time.\n" +
			"With --roots (PEM, one or more CA certificates) the certificate chains must lead\n" +
			"to those roots and validity periods are enforced; without it chains are not\n" +
			"checked (reported as an untrusted root) and expired certificates are warnings:\n" +
			"the result then says the document is intact and who signed it, not that the\n" +
			"signer is trusted.\n" +
			"One line per signature: ID, signer, time, result, and on failure the failing\n" +
			"entry and check. Exit 0 only when the document has signatures and all hold;\n" +
			"a document without signatures is not verified (exit 1).",
		Run: runOFDVerify,
	})
	register(&command{
		Name:    "ofd info",
		Summary: "show an OFD document: metadata, pages and their text, attachments, signatures",
		Usage:   "ofd info FILE [--json] [--no-text]",
		Run:     runOFDInfo,
	})
	register(&command{
		Name:    "ofd sample",
		Summary: "make a sealed sample bid guarantee with the bidder's signed agreement attached, from a test CA",
		Usage: "ofd sample --dir CA_DIR --out FILE [--plaintext] [--institution NAME] [--bidder NAME]\n\n" +
			"CA_DIR is a test CA from `baohan ca init`; the institution's and the bidder's\n" +
			"certificates are issued there (`baohan ca issue`) when missing. The sample is the\n" +
			"ciphertext guarantee (filetype 1) sealed by the institution, with the agreement\n" +
			"signed by the bidder attached; with --plaintext, the plaintext guarantee merged\n" +
			"with it (filetype 2) and sealed again. Check it with\n" +
			"  baohan ofd verify FILE --roots CA_DIR/ca.cert.pem",
		Run: runOFDSample,
	})
	register(&command{
		Name:    "ofd render",
		Summary: "draw a page of an OFD document as PNG or SVG (with the seals' stamps)",
		Usage: "ofd render FILE --out PAGE.png|PAGE.svg [--page N] [--dpi D]\n\n" +
			"PNG is drawn in pure Go and needs a CJK font installed (e.g. `apt-get install\n" +
			"fonts-noto-cjk`, or BAOHAN_CJK_FONT=/path/to/font.ttc); SVG needs none.",
		Run: runOFDRender,
	})
}

func readRoots(path string) (*smx509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	roots, err := gm.LoadTrustRoots(path)
	if err != nil {
		return nil, fmt.Errorf("--roots: %w", err)
	}
	return roots.Pool(), nil
}

func fileArg(pos []string) string {
	if len(pos) == 1 {
		return pos[0]
	}
	return "stdin"
}

type verifyJSON struct {
	File         string          `json:"file"`
	OK           bool            `json:"ok"`
	Message      string          `json:"message"`
	TrustChecked bool            `json:"trust_checked"`
	Signatures   []signatureJSON `json:"signatures"`
	Unprotected  []string        `json:"unprotected,omitempty"`
}

type signatureJSON struct {
	ID        string      `json:"id"`
	Type      string      `json:"type"`
	Signature string      `json:"signature"`
	Signer    string      `json:"signer"`
	SealName  string      `json:"seal_name,omitempty"`
	SealMaker string      `json:"seal_maker,omitempty"`
	Time      string      `json:"time,omitempty"`
	OK        bool        `json:"ok"`
	Stamps    []string    `json:"stamps,omitempty"`
	Failure   *ses.Check  `json:"failure,omitempty"`
	Checks    []ses.Check `json:"checks"`
}

// sigJSON is a signature's result as ofd verify and ofd info show it.
func sigJSON(r *ses.Result) signatureJSON {
	s := signatureJSON{ID: r.ID, Type: r.Type, Signature: r.Path, Signer: r.Signer, SealName: r.SealName, SealMaker: r.SealMaker,
		OK: r.OK(), Stamps: r.Stamps, Failure: r.Failure(), Checks: r.Checks}
	if !r.Time.IsZero() {
		s.Time = r.Time.In(ses.CST).Format("2006-01-02 15:04:05 -0700")
	}
	return s
}

func runOFDVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["ofd verify"])
	rootsFile := fs.String("roots", "", "PEM file of trusted CA certificates; enforces chains and validity")
	asJSON := fs.Bool("json", false, "print the full report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	roots, err := readRoots(*rootsFile)
	if err != nil {
		return err
	}
	doc, err := readInput(env, pos)
	if err != nil {
		return err
	}
	name := fileArg(pos)
	rep, err := ses.Verify(doc, roots)
	out := verifyJSON{File: name, Signatures: []signatureJSON{}}
	if err != nil {
		if !errors.Is(err, ses.ErrNotSigned) {
			return fmt.Errorf("%s: %w", name, err)
		}
		out.Message = "no signatures: the document is not signed, nothing is verified"
		if *asJSON {
			writeJSON(env.Stdout, out)
		} else {
			fmt.Fprintf(env.Stdout, "%s: %s\n", name, out.Message)
		}
		return exitError{Code: 1}
	}
	out.OK, out.TrustChecked, out.Unprotected = rep.OK(), rep.TrustChecked, rep.Unprotected
	failed := 0
	for _, r := range rep.Signatures {
		s := sigJSON(r)
		if !s.OK {
			failed++
		}
		out.Signatures = append(out.Signatures, s)
	}
	switch {
	case out.OK && rep.TrustChecked:
		out.Message = fmt.Sprintf("verified: %d signature(s) hold, certificates chain to the given roots", len(rep.Signatures))
	case out.OK:
		out.Message = fmt.Sprintf("verified: %d signature(s) hold (integrity and signatures; chains not checked without --roots)", len(rep.Signatures))
	default:
		out.Message = fmt.Sprintf("NOT verified: %d of %d signature(s) fail", failed, len(rep.Signatures))
	}
	if *asJSON {
		writeJSON(env.Stdout, out)
	} else {
		for i, s := range out.Signatures {
			fmt.Fprintln(env.Stdout, signatureLine(rep.Signatures[i], s, rep.TrustChecked))
		}
		for _, u := range rep.Unprotected {
			fmt.Fprintf(env.Stdout, "warning: %s is not protected by any signature (added after signing?)\n", u)
		}
		fmt.Fprintf(env.Stdout, "%s: %s\n", name, out.Message)
	}
	if !out.OK {
		return exitError{Code: 1}
	}
	return nil
}

// signatureLine is "signature 1 (Seal) by NAME at TIME: ok|FAIL ...".
func signatureLine(r *ses.Result, s signatureJSON, trust bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "signature %s (%s) by %q at %s: ", s.ID, s.Type, s.Signer, s.Time)
	if f := r.Failures(); len(f) > 0 {
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
	for _, c := range r.Warnings() {
		fmt.Fprintf(&b, "; warning %s: %s", c.Name, c.Detail)
	}
	return b.String()
}

type infoJSON struct {
	File        string            `json:"file"`
	DocID       string            `json:"doc_id"`
	Title       string            `json:"title,omitempty"`
	Creator     string            `json:"creator,omitempty"`
	Created     string            `json:"created,omitempty"`
	Custom      map[string]string `json:"custom,omitempty"`
	Pages       []pageJSON        `json:"pages"`
	Attachments []attachmentJSON  `json:"attachments"`
	Signatures  []signatureJSON   `json:"signatures"`
}

type pageJSON struct {
	Index int    `json:"page"`
	ID    uint64 `json:"id"`
	Size  string `json:"size_mm"`
	Text  string `json:"text,omitempty"`
}

type attachmentJSON struct {
	Name   string  `json:"name"`
	Format string  `json:"format,omitempty"`
	Bytes  int     `json:"bytes"`
	SizeKB float64 `json:"size_kb"`
	Path   string  `json:"path"`
}

func runOFDInfo(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["ofd info"])
	asJSON := fs.Bool("json", false, "print as JSON")
	noText := fs.Bool("no-text", false, "do not print the pages' text")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	doc, err := readInput(env, pos)
	if err != nil {
		return err
	}
	name := fileArg(pos)
	pkg, err := ofd.Open(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	out := infoJSON{File: name, DocID: d.Info.DocID, Title: d.Info.Title, Creator: d.Info.Creator, Created: d.Info.CreationDate,
		Pages: []pageJSON{}, Attachments: []attachmentJSON{}, Signatures: []signatureJSON{}}
	if len(d.Info.Custom) > 0 {
		out.Custom = map[string]string{}
		for _, c := range d.Info.Custom {
			out.Custom[c.Name] = c.Value
		}
	}
	for i, p := range d.Pages {
		pj := pageJSON{Index: i + 1, ID: p.ID, Size: ofd.Num(p.Box.W) + "×" + ofd.Num(p.Box.H)}
		if !*noText {
			pj.Text = p.Text()
		}
		out.Pages = append(out.Pages, pj)
	}
	for _, a := range d.Attachments {
		out.Attachments = append(out.Attachments, attachmentJSON{Name: a.Name, Format: a.Format, Bytes: len(a.Data), SizeKB: a.SizeKB, Path: "/" + a.Path})
	}
	if len(d.SignatureRef) > 0 {
		if rep, err := ses.VerifyPackage(pkg, nil); err == nil {
			for _, r := range rep.Signatures {
				s := sigJSON(r)
				s.Checks = nil
				out.Signatures = append(out.Signatures, s)
			}
		}
	}
	if *asJSON {
		writeJSON(env.Stdout, out)
		return nil
	}
	w := env.Stdout
	fmt.Fprintf(w, "%s: OFD %s, DocID %s\n", name, d.Version, d.Info.DocID)
	if d.Info.Title != "" {
		fmt.Fprintf(w, "title: %s\n", d.Info.Title)
	}
	if d.Info.Creator != "" || d.Info.CreationDate != "" {
		fmt.Fprintf(w, "created: %s by %s %s\n", d.Info.CreationDate, d.Info.Creator, d.Info.CreatorVersion)
	}
	for _, c := range d.Info.Custom {
		if c.Value != "" {
			fmt.Fprintf(w, "custom %s: %s\n", c.Name, c.Value)
		}
	}
	fmt.Fprintf(w, "pages: %d\n", len(d.Pages))
	for _, p := range out.Pages {
		fmt.Fprintf(w, "page %d (ID %d, %s mm)\n", p.Index, p.ID, p.Size)
		if p.Text != "" {
			for _, line := range strings.Split(p.Text, "\n") {
				fmt.Fprintf(w, "  | %s\n", line)
			}
		}
	}
	fmt.Fprintf(w, "attachments: %d\n", len(out.Attachments))
	for _, a := range out.Attachments {
		fmt.Fprintf(w, "  %s (%s, %d bytes) %s\n", a.Name, a.Format, a.Bytes, a.Path)
	}
	fmt.Fprintf(w, "signatures: %d\n", len(d.SignatureRef))
	for _, s := range out.Signatures {
		state := "intact"
		if !s.OK {
			state = "BROKEN (" + s.Failure.Name + " " + s.Failure.Entry + ")"
		}
		fmt.Fprintf(w, "  %s %s by %q at %s, seal %q, %s; stamps: %s\n", s.ID, s.Type, s.Signer, s.Time, s.SealName, state, strings.Join(s.Stamps, ", "))
	}
	return nil
}

func runOFDSample(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["ofd sample"])
	dir := fs.String("dir", "", "the test CA directory (from baohan ca init)")
	outFile := fs.String("out", "", "the OFD file to write")
	plaintext := fs.Bool("plaintext", false, "make the merged plaintext guarantee (filetype 2)")
	instName := fs.String("institution", "示例融资担保有限公司", "the institution's name (certificate CN and file name in CA_DIR)")
	bidderName := fs.String("bidder", "示例建设工程有限公司", "the bidder's name (certificate CN and file name in CA_DIR)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if err := required("dir", *dir, "out", *outFile); err != nil {
		return err
	}
	ca, err := pki.Load(*dir)
	if err != nil {
		return err
	}
	var parties [2]guarantee.Party
	for i, p := range []struct {
		name string
		role pki.Role
	}{{*instName, pki.Institution}, {*bidderName, pki.Bidder}} {
		id, issued, err := ca.LoadOrIssue(*dir, p.name, p.role)
		if err != nil {
			return err
		}
		if issued {
			fmt.Fprintf(env.Stderr, "issued %s certificate %s\n", p.role, filepath.Join(*dir, pki.CertFile(p.name)))
		}
		parties[i] = guarantee.Party{Key: id.Key, Cert: id.Cert}
	}
	doc, err := guarantee.Sample(parties[0], parties[1], time.Now().In(ses.CST), *plaintext)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outFile, doc, 0o644); err != nil {
		return err
	}
	form := "ciphertext guarantee (filetype 1)"
	if *plaintext {
		form = "plaintext guarantee merged with the sealed ciphertext one (filetype 2)"
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s, %d bytes, sealed by %s, agreement signed by %s attached\n", *outFile, form, len(doc),
		parties[0].Cert.Subject.CommonName, parties[1].Cert.Subject.CommonName)
	fmt.Fprintf(env.Stdout, "check it: baohan ofd verify %s --roots %s\n", *outFile, filepath.Join(*dir, pki.CACertFile))
	return nil
}

func runOFDRender(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["ofd render"])
	outFile := fs.String("out", "", "output file: .png or .svg")
	page := fs.Int("page", 1, "page number, from 1")
	dpi := fs.Float64("dpi", render.DefaultDPI, "PNG resolution")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := required("out", *outFile); err != nil {
		return err
	}
	doc, err := readInput(env, pos)
	if err != nil {
		return err
	}
	var out []byte
	switch ext := strings.ToLower(filepath.Ext(*outFile)); ext {
	case ".svg":
		out, err = render.SVG(doc, *page-1)
	case ".png":
		if *dpi <= 0 || *dpi > 1200 {
			return fmt.Errorf("--dpi %v: between 1 and 1200", *dpi)
		}
		out, err = render.PNG(doc, *page-1, *dpi)
		if errors.Is(err, render.ErrNoFont) {
			return fmt.Errorf("%w (or render to SVG: --out page.svg)", err)
		}
	default:
		return fmt.Errorf("--out %s: the extension must be .png or .svg", *outFile)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", fileArg(pos), err)
	}
	if err := os.WriteFile(*outFile, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (page %d, %d bytes)\n", *outFile, *page, len(out))
	return nil
}
