// Package ofd writes and reads OFD documents (GB/T 33190-2016, 版式文档),
// the format of electronic bid guarantees: a zip of XML descriptions,
// resources and attachments. Its sub-packages seal them (ses, GB/T
// 38540-2020), lay out the guarantee and the agreement (guarantee) and
// draw pages (render).
//
// # Writing
//
// A Builder lays out one document (Doc_0): fonts, PNG/JPEG images, pages
// of text, path and image objects, attachments. A font is either embedded
// (EmbedFont, a TrueType font of ofd/ttf: the subset of the characters the
// document draws in it is written as Doc_0/Res/font_ID.ttf, named by the
// Font's FontFile relative to PublicRes's BaseLoc, as ofdrw writes it) or
// referenced by name only (Font: 宋体, 黑体; readers substitute an
// installed face). Text is positioned glyph by glyph (DeltaX, "g N v"
// runs compressed): by the embedded font's own advances, so that every
// reader drawing with the embedded file draws the same page and no two
// glyphs overlap; for a font by name, by the Advance rule (a CJK
// character advances the font size, ASCII half of it, SimSun's metrics).
// A character an embedded font lacks keeps the slot of the Advance rule
// and readers draw the font's missing-glyph box there (Builder.Missing).
// Wrap breaks lines by the Chinese rules (no closing mark at a line
// start, no opening mark at an end, words and numbers kept whole, long
// base64 cut), with the widths of the font (Builder.Wrap). Elements are
// written in the schema order of GB/T 33190 with the ofd: prefix; object
// IDs are allocated in call order and MaxUnitID is the last one. The
// output is a function of the input: zip entry times come from
// Info.Created, never from the clock.
//
//	b := ofd.NewBuilder(ofd.Info{Title: "投标保函", Created: now})
//	font := b.EmbedFont(ttf.Default())
//	p := b.AddPage() // A4
//	p.Text(25, 20, ofd.TextStyle{Font: font, Size: 7}, "投标保函")
//	y := p.Paragraph(25, 40, 160, ofd.TextStyle{Font: font, Size: 3.7}, 6, 7.4, true, text)
//	p.Line(25, y, 185, y, 0.3, ofd.Black)
//	b.Attach(ofd.Attachment{Name: "保函委托协议.ofd", Data: agreement})
//	doc, err := b.Bytes()
//
// # Package layout and locations
//
//	OFD.xml                          DocBody: DocInfo, DocRoot, Signatures
//	Doc_0/Document.xml               CommonData (MaxUnitID, PageArea, PublicRes, DocumentRes), Pages, Attachments
//	Doc_0/PublicRes.xml              fonts (FontFile under BaseLoc="Res")
//	Doc_0/DocumentRes.xml            images (MultiMedia, BaseLoc="Res")
//	Doc_0/Pages/Page_N/Content.xml   one body layer of objects
//	Doc_0/Res/font_ID.ttf            embedded font subsets
//	Doc_0/Res/image_ID.png           image files
//	Doc_0/Attachments.xml            Attachment (ID, Name, Format, CreationDate, Size in KB) → FileLoc
//	Doc_0/Attachs/...                attached files
//	Doc_0/Signs/...                  added by ses.Sign
//
// Locations are absolute ("/Doc_0/...") where the two readers that matter
// resolve them alike: Signatures, Signature BaseLoc, SignedValue, Seal
// BaseLoc, Reference FileRef, the Attachments file and FileLoc, as ofdrw
// writes them. Page BaseLoc, PublicRes, DocumentRes and MediaFile stay
// relative to their file (Pages/Page_0/Content.xml, image_5.png and
// font_1.ttf under BaseLoc Res): ofd.js prefixes "Doc_0/" to those and does not strip a
// leading slash, so absolute ones break it.
//
// # Reading
//
// Open (bytes) and OpenReaderAt read a package into memory, refusing, with
// a *PackageError that names the entry: more entries, bytes per entry or
// bytes in total than Limits allow (counted on the bytes inflated, not on
// the sizes the headers claim), names that could escape a directory or
// differ by reader (absolute, "..", ".", empty segments, backslashes,
// drive letters, control characters, invalid UTF-8), duplicate names
// (also by case), encryption and methods other than store and deflate.
// Read parses the first document: metadata, resources, pages with their
// text, path and image objects in drawing order (nested PageBlocks
// flattened; what it does not know is listed in Page.Unsupported), the
// attachments and the signature list. XML is read by local name, so
// prefixed and unprefixed files both parse; UTF-8 only, no DOCTYPE, no
// text outside the root, and the root in the OFD namespace or none.
// Relative locations resolve from their file, then from the package root.
//
// # Never rewriting a signed entry
//
// A Package keeps every entry as the bytes read or built. Nothing is
// re-serialized on the way out: WriteTo writes the entries as they are,
// Add appends, and ses.Sign replaces only Signatures.xml (which
// continue-sign signatures do not cover) and, for the first signature,
// OFD.xml, after checking that no existing signature protects the entry.
// What is hashed is exactly what is written.
//
// # Checking a document
//
//	baohan ofd info FILE                       # pages, text, attachments, signatures
//	baohan ofd verify FILE --roots CA.pem      # every seal; exit 0 only if all hold
//	baohan ofd render FILE --out page.png      # or page.svg
//
// Independent checks with OpenSSL 3 (the tests run them on every sealed
// document): each CheckValue is
//
//	openssl dgst -sm3 -binary ENTRY | base64
//
// and both SM2 signatures (document: DER TBS_Sign; seal: DER SES_SealInfo)
// verify with
//
//	openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in tbs.der -sigfile sig.der \
//	        -digest sm3 -pkeyopt distid:1234567812345678
package ofd
