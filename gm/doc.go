// Package gm is the 国密 (Chinese commercial cryptography) layer of baohan:
// SM2 public-key encryption and signatures, SM3 digests and SM4 ciphers as
// the bid-guarantee interface uses them, on github.com/emmansun/gmsm.
//
// What the wire carries, and the function for it:
//
//   - applydata and the project fields: SM4-ECB, PKCS#7, base64
//     (EncryptField, DecryptField, SealEnvelope, OpenEnvelope);
//   - digitalenvelope, and the key and iv of a guarantee file: base64 of an
//     SM2 ciphertext in the peer's CipherLayout (WrapKey, UnwrapKey);
//   - the guarantee file itself: SM4-CBC, PKCS#7, streamed
//     (NewCBCEncryptWriter, NewCBCDecryptReader), and the whole of it with
//     its baohanfilecompletenotice fields (EncryptFile, DecryptFile,
//     FileKey, FileFields);
//   - baohanfilemd5: SM3 or MD5 hex of the plaintext file (FileDigest,
//     DigestAlgOf);
//   - public keys in every form peers send them (ParsePublicKey, or a file
//     or the value itself: LoadPublicKey) and private keys in every form
//     tools write them (ParsePrivateKey).
//
// Every error says what was expected and what was found, so that the
// message can be shown to the integrator at the other end.
package gm
