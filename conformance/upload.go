package conformance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"fmt"
	"strconv"

	"github.com/baohan-dev/baohan/gm"
)

// upload is one guarantee file encrypted for the platform, cut in chunks.
type upload struct {
	plain  []byte
	digest string // hex digest of plain (the profile's algorithm)
	key    gm.FileKey
	chunks [][]byte // encrypted bytes, in order
	base   int      // index of chunks[0]
	sent   int      // chunk calls made, labelled in bak2
	enc    gm.Encoding
}

// newUpload encrypts file with a fresh SM4-CBC key and iv and cuts the
// ciphertext in chunks of at most p.ChunkSize bytes, smaller when needed
// to make at least three chunks.
func newUpload(ctx context.Context, file []byte, p Profile) (*upload, error) {
	u := &upload{plain: file, key: gm.NewFileKey(), base: p.indexBase()}
	var ct bytes.Buffer
	var err error
	if u.digest, err = u.key.Encrypt(ctx, &ct, bytes.NewReader(file), p.FileDigest); err != nil {
		return nil, err
	}
	if p.DigestOver == gm.OverCiphertext {
		u.digest, _ = gm.FileDigest(bytes.NewReader(ct.Bytes()), p.FileDigest) // a hash never fails to write
	}
	u.enc = p.Encoding
	size := p.ChunkSize
	if third := (ct.Len() + 2) / 3; third < size {
		size = max(third, 1)
	}
	b := ct.Bytes()
	for len(b) > 0 {
		n := min(size, len(b))
		u.chunks = append(u.chunks, b[:n:n])
		b = b[n:]
	}
	return u, nil
}

// chunkFields are the fields of uploadbaohanfile for chunk k (0-based
// position), with data as the chunk's bytes. bak2 numbers the kit's
// chunk calls, so that a chunk sent again has its own sign at once.
func (u *upload) chunkFields(applyno, baohanno, filetype string, k int, data []byte) map[string]string {
	u.sent++
	return map[string]string{
		"bak2":       fmt.Sprintf("conformance chunk call %d", u.sent),
		"applyno":    applyno,
		"baohanno":   baohanno,
		"baohanfile": u.enc.Encode(data),
		"filetype":   filetype,
		"index":      strconv.Itoa(u.base + k),
	}
}

// completeFields are the fields of baohanfilecompletenotice, the key and
// iv wrapped for pub.
func (u *upload) completeFields(applyno, baohanno, filetype string, pub *ecdsa.PublicKey, l gm.CipherLayout) (map[string]string, error) {
	k, err := gm.WrapKeyAs(pub, u.key.Key, l, u.enc)
	if err != nil {
		return nil, fmt.Errorf("wrapping the file key and iv: %w", err)
	}
	iv, err := gm.WrapKeyAs(pub, u.key.IV, l, u.enc)
	if err != nil {
		return nil, fmt.Errorf("wrapping the file key and iv: %w", err)
	}
	return map[string]string{
		"applyno":       applyno,
		"baohanno":      baohanno,
		"key":           k,
		"iv":            iv,
		"baohanfilemd5": u.digest,
		"filetype":      filetype,
		"bak1":          strconv.Itoa(len(u.chunks)),
	}, nil
}
