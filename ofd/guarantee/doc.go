// Package guarantee lays out the documents of an electronic bid guarantee
// (电子投标保函) as OFD and runs the issuing flow on them:
//
//	agreement, _ := guarantee.BuildAgreement(a)                    // 保函委托协议, unsigned
//	seal, _      := guarantee.BidderSeal(key, cert, name, from, to)
//	agreement, _  = guarantee.SignAgreement(agreement, ses.Signer{Key: key, Cert: cert, Seal: seal}, now)
//
//	doc, _    := guarantee.Build(g, guarantee.Options{QRURL: url, Now: clock,  // g.Ciphertext: filetype 1
//	                 Attachments: []ofd.Attachment{{Name: "保函委托协议.ofd", Data: agreement}}})
//	cipher, _ := guarantee.Seal(doc, institution, now)                          // sealed at 担保人（盖章）
//
//	plain, _  := guarantee.Build(gPlain, opt)                                   // after bid opening
//	merged, _ := guarantee.Merge(plain, cipher)                                 // filetype 2
//	final, _  := guarantee.Seal(merged, institution, now)
//
// The documents are set in the font the module embeds (ttf.Default,
// WenQuanYi Micro Hei cut to GBK), whose subset each document carries
// (OFD FontFile), and every glyph is placed by its advances; long names,
// addresses and numbers wrap within their columns, closing marks included.
//
// The guarantee states the number, the addressee (招标人), the bidder and
// its credit code, the 标段, the amount in figures and in capitals
// (baohan.AmountInCapitals), the validity (from bid opening to the end of
// the bid validity period), the terms of a first-demand guarantee (见索即付:
// irrevocable, unconditional, payment within PayDays working days of a
// written demand), a table of the fields, the seal area and a QR code
// carrying the verification URL and the guarantee number, and, under the
// seal, the institution's address (担保人地址) and telephone (联系电话) when
// given. In the ciphertext form the four project fields appear as the
// base64 SM4 ciphertext the institution received, wrapped in the table.
//
// Merge decides what the plaintext guarantee is: the plaintext pages, then
// the ciphertext pages (marked 附：密文保函), the attachments of both, and
// the sealed ciphertext guarantee itself carried byte for byte as the
// attachment 密文保函.ofd, so that its original seal still verifies. The
// merged document is then sealed again; Seal stamps every seal area, on
// the plaintext and the ciphertext pages, in one signature.
//
// The seal picture is not drawn into the pages: a picture on a page
// without a signature would be a seal anyone could copy. It appears
// through the signature's StampAnnot (Seal centres it on the seal area
// found by its label), as on paper only a sealed guarantee shows a seal.
// SealPicture draws the institution's round seal (ring, star, the name on
// the arc with a CJK font, the subtitle in a band) and SignaturePicture
// the bidder's square name seal, both in pure Go (golang.org/x/image),
// with an installed CJK font, else the embedded one.
//
// Sample runs the whole flow on sample data with any institution's and
// bidder's key and certificate (baohan ofd sample).
//
// Build, BuildAgreement, Attach and Merge are deterministic: the same
// input and clock give the same bytes (golden tests in testdata/golden).
package guarantee
