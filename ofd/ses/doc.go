// Package ses makes and checks electronic seals and signatures of OFD
// documents: GB/T 38540-2020 (安全电子签章密码技术规范) version 4 structures
// with SM2/SM3, placed in the package as GB/T 33190-2016 §18 describes.
//
// # Structures (encoding/asn1)
//
//	SESeal        { SES_SealInfo, cert (maker), OID SM2-SM3, BIT STRING signature over DER(SES_SealInfo) }
//	SES_SealInfo  { header {"ES", 4, vid}, esID, property {type, name, certListType 1,
//	                certList (holders' DER certificates), createDate, validStart, validEnd},
//	                picture {"PNG", data, width mm, height mm} }
//	TBS_Sign      { 4, SESeal, timeInfo, dataHash = SM3(Signature.xml), propertyInfo = "/Doc_0/Signs/Sign_N/Signature.xml" }
//	SES_Signature { TBS_Sign, cert (signer), OID SM2-SM3, BIT STRING signature over DER(TBS_Sign) }
//
// Signatures are SM2 with SM3 and the default user ID 1234567812345678,
// DER SEQUENCE{r, s} inside the BIT STRING (what ofdrw writes and OpenSSL
// verifies). MakeSeal signs a seal; ParseSeal reads one.
//
// # Signing
//
// Sign adds Doc_0/Signs/Sign_N/{Seal.esl, Signature.xml, SignedValue.dat}
// and lists the signature in Signatures.xml. Signature.xml references
// every other entry with its base64 SM3 CheckValue, except Signatures.xml:
// signatures continue (续签), so a later seal does not break an earlier
// one (SignOptions.Final protects Signatures.xml too and closes the
// document). StampAnnots place the seal's picture on pages by page ID.
// Signature and StampAnnot IDs share one sequence, MaxSignId its maximum.
// Sign never rewrites an entry an existing signature protects.
//
// # The bidder's signature
//
// GB/T 33190 also knows Type="Sign" signatures (digital signatures without
// a seal, GB/T 35275 PKCS#7). ofdrw's SES verifier refuses Type="Sign"
// and ofd.js shows only seals, so the bidder's signature on the agreement
// is a Type="Seal" SES v4 signature whose seal the bidder makes with its
// own CA certificate (maker and only holder, personal seal type, a square
// name picture: guarantee.BidderSeal). Every reader that checks SES v4
// verifies it, and what it proves is the bidder's certificate.
//
// # Verifying
//
// Verify reports, per signature, the signer (certificate CN), the time,
// and named checks with the entry concerned: every CheckValue, the
// dataHash over Signature.xml, the SM2 signature over TBS_Sign, the seal
// maker's signature over SES_SealInfo, the Seal.esl copy, the signer in
// the seal's certList, the seal's and the certificates' validity at the
// signing time, the chains to the trust roots, and the stamps' pages.
// Without roots the chains are not checked ("untrusted root") and expired
// certificates are warnings: the report then says the document is intact
// and who signed it. With roots, chains and validity periods are enforced.
// A document without signatures is ErrNotSigned, never "verified".
package ses
