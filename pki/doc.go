// Package pki is baohan's own small SM2 certificate authority, and the
// one reading of the 统一社会信用代码 (unified social credit code) from
// a certificate that the platform, the institution and the CA agent
// share.
//
// # The CA
//
// New, Init and Load make or read a self-signed root (SM2-with-SM3);
// Issue and IssueToDir issue certificates for the three roles of the
// bid-guarantee interface: bidders (the CA certificate the digital
// envelope is sealed for and the agreement is signed with), institutions
// (seal certificates) and the platform. Bidder and institution
// certificates carry the credit code in Subject SERIALNUMBER (OID
// 2.5.4.5) unless WithCreditCodeIn places it as another CA would.
//
// It is what runs where no real CA is at hand: `baohan ca init|issue`,
// the embedded defaults of `baohan platform serve` and `baohan
// institution serve` without a configuration file, the demo, the
// conformance kit and the benchmarks. It keeps no revocation list and
// no records of what it issued: a deployment trusts the CAs that issue
// its bidders' and institutions' certificates (trust_roots), never this
// one.
//
// Certificates are signed with the GM/T 0009 default SM2 ID
// 1234567812345678, as Chinese CAs sign them; they verify with smx509
// and with OpenSSL, which in version 3.0 must be told the ID:
//
//	openssl verify -vfyopt distid:1234567812345678 -CAfile ca.cert.pem NAME.cert.pem
//
// (OpenSSL 3.0 verifies certificate signatures with an empty ID by
// default, see openssl/openssl#23471.)
//
// # Credit codes
//
// CreditCode reads the credit code a certificate carries where its CA
// puts it (CreditCodeIn: Subject SERIALNUMBER, the CN as CFCA writes it,
// an OU, or an extension) and accepts only a well-formed code with its
// GB 32100-2015 check character (CheckCreditCode). CreditCodes picks the
// place by the trust root that issued the certificate, as a service's
// [[trust_root]] tables configure it.
package pki
