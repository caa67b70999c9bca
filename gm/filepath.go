package gm

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm2"
)

// FileError is an error about the input ("in") or the output ("out")
// file of EncryptFileAt and DecryptFileAt.
type FileError struct {
	Which string // in | out
	Err   error
}

func (e *FileError) Error() string { return e.Which + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// EncryptFileAt is EncryptFile from the file in to the file out, which
// must differ; an empty input is refused. out is written through a
// temporary file beside it, renamed over it only on success: a failure
// leaves no output file.
func EncryptFileAt(ctx context.Context, in, out string, pub *ecdsa.PublicKey, l CipherLayout, alg DigestAlg) (FileFields, error) {
	src, err := openIn(in, out)
	if err != nil {
		return FileFields{}, err
	}
	defer src.Close()
	if st, err := src.Stat(); err == nil && st.Size() == 0 {
		return FileFields{}, &FileError{"in", fmt.Errorf("%s is empty", in)}
	}
	var f FileFields
	err = replaceFile(out, func(w io.Writer) (err error) {
		if f, err = EncryptFile(ctx, w, src, pub, l, alg); err != nil {
			return fmt.Errorf("encrypting %s: %w", in, err)
		}
		return nil
	})
	return f, err
}

// DecryptFileAt is DecryptFile from the file in to the file out, which
// must differ, written as EncryptFileAt writes: out is there only when
// decryption and the digest's check succeed.
func DecryptFileAt(ctx context.Context, in, out string, priv *sm2.PrivateKey, f FileFields, l CipherLayout) error {
	k, alg, err := unwrapFields(priv, f, l)
	if err != nil {
		return err
	}
	src, err := openIn(in, out)
	if err != nil {
		return err
	}
	defer src.Close()
	return replaceFile(out, func(w io.Writer) error {
		got, err := k.Decrypt(ctx, w, src, alg)
		if err != nil {
			return fmt.Errorf("decrypting %s: %w", in, err)
		}
		return f.CheckDigest(got)
	})
}

// openIn opens the input file in, which must not be the output file out.
func openIn(in, out string) (*os.File, error) {
	if sa, err := os.Stat(in); err == nil {
		if sb, err := os.Stat(out); err == nil && os.SameFile(sa, sb) {
			return nil, &FileError{"in", errors.New("the input and the output are the same file")}
		}
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, &FileError{"in", err}
	}
	return f, nil
}

// replaceFile writes out through a temporary file beside it, renamed over
// it only when fill succeeds.
func replaceFile(out string, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return &FileError{"out", err}
	}
	defer os.Remove(tmp.Name())
	err = fill(tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = &FileError{"out", cerr}
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return &FileError{"out", err}
	}
	return nil
}
