package gm

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// cbcBuf is the amount of data the CBC writer and reader hold at once.
// Memory use of both is bounded by it, whatever the size of the file.
const cbcBuf = 64 << 10

// NewCBCEncryptWriter returns a writer that encrypts what is written to it
// with SM4-CBC under key and iv (16 bytes each) and writes the ciphertext
// to w. Close writes the last block with its PKCS#7 padding; it does not
// close w. Memory use is constant.
func NewCBCEncryptWriter(w io.Writer, key, iv []byte) (io.WriteCloser, error) {
	b, err := newSM4(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != blockSize {
		return nil, fmt.Errorf("gm: SM4-CBC iv must be %d bytes, got %d", blockSize, len(iv))
	}
	return &cbcWriter{w: w, mode: cipher.NewCBCEncrypter(b, iv), buf: make([]byte, 0, cbcBuf)}, nil
}

type cbcWriter struct {
	w      io.Writer
	mode   cipher.BlockMode
	buf    []byte // pending plaintext, then ciphertext in place
	closed bool
	err    error
}

func (c *cbcWriter) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("gm: SM4-CBC writer: write after Close")
	}
	if c.err != nil {
		return 0, c.err
	}
	n := 0
	for len(p) > 0 {
		k := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		n += k
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush encrypts and writes every full block of buf; with final, it pads
// the rest first.
func (c *cbcWriter) flush(final bool) error {
	if final {
		n := blockSize - len(c.buf)%blockSize
		for range n {
			c.buf = append(c.buf, byte(n))
		}
	}
	full := len(c.buf) / blockSize * blockSize
	if full == 0 {
		return nil
	}
	c.mode.CryptBlocks(c.buf[:full], c.buf[:full])
	if _, err := c.w.Write(c.buf[:full]); err != nil {
		c.err = fmt.Errorf("gm: SM4-CBC writer: %w", err)
		return c.err
	}
	rest := copy(c.buf, c.buf[full:])
	c.buf = c.buf[:rest]
	return nil
}

// Close pads and writes the final block. Calling it again does nothing.
func (c *cbcWriter) Close() error {
	if c.closed {
		return c.err
	}
	c.closed = true
	if c.err != nil {
		return c.err
	}
	return c.flush(true)
}

// NewCBCDecryptReader returns a reader of the plaintext of the SM4-CBC
// ciphertext read from r. It holds back the last block until r reaches
// EOF, then checks and strips the PKCS#7 padding: a ciphertext whose
// length is not a positive multiple of 16 or whose padding is wrong ends
// in an error (wrapping ErrBadPadding for the latter) instead of io.EOF.
// Plaintext before the last block is delivered as it is decrypted, so a
// caller must discard what it read unless Read ended with io.EOF (and
// should check the file digest too: a wrong iv only garbles the first
// block). Memory use is constant.
func NewCBCDecryptReader(r io.Reader, key, iv []byte) (io.Reader, error) {
	b, err := newSM4(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != blockSize {
		return nil, fmt.Errorf("gm: SM4-CBC iv must be %d bytes, got %d", blockSize, len(iv))
	}
	return &cbcReader{r: r, mode: cipher.NewCBCDecrypter(b, iv), buf: make([]byte, cbcBuf+blockSize)}, nil
}

type cbcReader struct {
	r     io.Reader
	mode  cipher.BlockMode
	buf   []byte // buf[:dec] decrypted, buf[dec:n] ciphertext not yet decrypted
	n     int
	dec   int
	out   []byte // decrypted plaintext not yet returned (a tail of buf[:dec])
	total int64  // ciphertext bytes read from r
	err   error  // sticky: io.EOF when done, or the failure
}

func (c *cbcReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// fill reads more ciphertext and decrypts every block that is known not
// to be the last one; at EOF it decrypts the rest and strips the padding.
func (c *cbcReader) fill() {
	// Move the ciphertext not yet decrypted to the front.
	c.n = copy(c.buf, c.buf[c.dec:c.n])
	c.dec = 0
	for empty := 0; c.n <= blockSize; {
		m, err := c.r.Read(c.buf[c.n:])
		c.n += m
		c.total += int64(m)
		switch {
		case err == io.EOF:
			c.finish()
			return
		case err != nil:
			c.err = fmt.Errorf("gm: SM4-CBC reader: after %d bytes: %w", c.total, err)
			return
		case m == 0:
			if empty++; empty >= 100 {
				c.err = fmt.Errorf("gm: SM4-CBC reader: after %d bytes: %w", c.total, io.ErrNoProgress)
				return
			}
		}
	}
	// Bytes follow the last whole block, so no whole block is the final one.
	full := (c.n - 1) / blockSize * blockSize
	c.mode.CryptBlocks(c.buf[:full], c.buf[:full])
	c.dec = full
	c.out = c.buf[:full]
}

func (c *cbcReader) finish() {
	switch {
	case c.total == 0:
		c.err = errors.New("gm: SM4-CBC: empty ciphertext (PKCS#7 gives at least one 16-byte block)")
		return
	case c.total%blockSize != 0:
		c.err = fmt.Errorf("gm: SM4-CBC: ciphertext is %d bytes, not a multiple of 16 (truncated, or not SM4-CBC)", c.total)
		return
	}
	c.mode.CryptBlocks(c.buf[:c.n], c.buf[:c.n])
	pt, err := unpad(c.buf[:c.n])
	if err != nil {
		c.err = fmt.Errorf("gm: SM4-CBC: %d-byte ciphertext: %w", c.total, err)
		return
	}
	c.dec = c.n
	c.out = pt
	c.err = io.EOF
}
