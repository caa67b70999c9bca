package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/pki"
	"github.com/emmansun/gmsm/sm2"
)

// The 国密 tools: a test CA, the digital envelope of baohanapply and the
// guarantee-file encryption of uploadbaohanfile / baohanfilecompletenotice.

var cryptoCommands = []cli.Command{{
	Name: "ca init",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		dir := fs.String("dir", "", "directory for ca.cert.pem and ca.key.pem (created)")
		return func(ctx context.Context, _ []string) error {
			if err := cli.Required("dir", *dir); err != nil {
				return err
			}
			ca, err := pki.Init(*dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "wrote %s and %s (%s, valid until %s)\n",
				filepath.Join(*dir, pki.CACertFile), filepath.Join(*dir, pki.CAKeyFile),
				ca.Cert.Subject.CommonName, ca.Cert.NotAfter.Format("2006-01-02"))
			return nil
		}
	},
}, {
	Name: "ca issue",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		dir := fs.String("dir", "", "the CA directory (from ca init); the files are written there")
		name := fs.String("name", "", "subject name and file name stem")
		role := fs.String("role", "", "bidder, institution or platform")
		code := fs.String("credit-code", "", "the 统一社会信用代码 (default: a generated one)")
		codeIn := fs.String("credit-code-in", "serialnumber", "where the certificate carries the code: serialnumber | cn | ou | ext:OID")
		return func(ctx context.Context, _ []string) error {
			if err := cli.Required("dir", *dir, "name", *name, "role", *role); err != nil {
				return err
			}
			r, err := pki.ParseRole(*role)
			if err != nil {
				return err
			}
			ca, err := pki.Load(*dir)
			if err != nil {
				return err
			}
			in, err := pki.ParseCreditCodeIn(*codeIn)
			if err != nil {
				return fmt.Errorf("--credit-code-in: %w", err)
			}
			opts := []pki.Option{pki.WithCreditCodeIn(in)}
			if *code != "" {
				opts = append(opts, pki.WithCreditCode(*code))
			}
			id, err := ca.IssueToDir(*dir, *name, r, opts...)
			if err != nil {
				return err
			}
			extra := ""
			if id.CreditCode != "" {
				extra = ", credit code " + id.CreditCode
			}
			fmt.Fprintf(env.Stdout, "wrote %s and %s (%s%s, public key %s)\n",
				filepath.Join(*dir, pki.KeyFile(*name)), filepath.Join(*dir, pki.CertFile(*name)),
				id.Role, extra, gm.PublicKeyHex(&id.Key.PublicKey))
			return nil
		}
	},
}, {
	Name: "envelope seal",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		certFlag := fs.String("cert", "", "the bidder's certificate or public key (file or value)")
		layout := layoutFlag(fs)
		return func(ctx context.Context, pos []string) error {
			l, err := gm.ParseCipherLayout(*layout)
			if err != nil {
				return err
			}
			pub, err := readPublicKey("cert", *certFlag)
			if err != nil {
				return err
			}
			data, err := cli.ReadInput(env, pos)
			if err != nil {
				return err
			}
			e, err := gm.SealApplyData(pub, data, l)
			if err != nil {
				return err
			}
			return cli.WriteJSON(env.Stdout, e)
		}
	},
}, {
	Name: "envelope open",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		keyPath := fs.String("key", "", "the bidder's private key file")
		ad := fs.String("applydata", "", "the applydata field (base64)")
		envelope := fs.String("digitalenvelope", "", "the digitalenvelope field (base64)")
		layout := layoutFlag(fs)
		return func(ctx context.Context, _ []string) error {
			l, err := gm.ParseCipherLayout(*layout)
			if err != nil {
				return err
			}
			if err := cli.Required("applydata", *ad, "digitalenvelope", *envelope); err != nil {
				return err
			}
			k, err := readPrivateKey(*keyPath)
			if err != nil {
				return err
			}
			pt, err := gm.OpenEnvelope(k, *ad, *envelope, l)
			if err != nil {
				return err
			}
			if len(pt) == 0 || pt[len(pt)-1] != '\n' {
				pt = append(pt, '\n')
			}
			_, err = env.Stdout.Write(pt)
			return err
		}
	},
}, {
	Name: "file encrypt",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		pubFlag := fs.String("pubkey", "", "the platform's public key for this applyno (value or file; hex, base64, PEM, certificate)")
		in := fs.String("in", "", "the plaintext guarantee file")
		out := fs.String("out", "", "where to write the ciphertext")
		digest := fs.String("digest", "sm3", "digest of the plaintext for baohanfilemd5: sm3 or md5")
		layout := layoutFlag(fs)
		return func(ctx context.Context, _ []string) error {
			if err := cli.Required("in", *in, "out", *out); err != nil {
				return err
			}
			l, err := gm.ParseCipherLayout(*layout)
			if err != nil {
				return err
			}
			alg, err := gm.ParseDigestAlg(*digest)
			if err != nil {
				return err
			}
			pub, err := readPublicKey("pubkey", *pubFlag)
			if err != nil {
				return err
			}
			f, err := gm.EncryptFileAt(ctx, *in, *out, pub, l, alg)
			if err != nil {
				return flagFileError(err)
			}
			return cli.WriteJSON(env.Stdout, f)
		}
	},
}, {
	Name: "file decrypt",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		keyPath := fs.String("key", "", "the private key for the applyno's public key (file)")
		var f gm.FileFields
		fs.StringVar(&f.Key, "keyfield", "", "the key field of baohanfilecompletenotice (base64 SM2)")
		fs.StringVar(&f.IV, "ivfield", "", "the iv field of baohanfilecompletenotice (base64 SM2)")
		in := fs.String("in", "", "the ciphertext (the chunks joined)")
		out := fs.String("out", "", "where to write the plaintext")
		fs.StringVar(&f.BaohanFileMD5, "baohanfilemd5", "", "expected plaintext digest (64 hex SM3 or 32 hex MD5)")
		layout := layoutFlag(fs)
		return func(ctx context.Context, _ []string) error {
			if err := cli.Required("keyfield", f.Key, "ivfield", f.IV, "in", *in, "out", *out); err != nil {
				return err
			}
			l, err := gm.ParseCipherLayout(*layout)
			if err != nil {
				return err
			}
			if _, err := f.DigestAlg(); err != nil {
				return fmt.Errorf("--baohanfilemd5: %w", err)
			}
			k, err := readPrivateKey(*keyPath)
			if err != nil {
				return err
			}
			return flagFileError(gm.DecryptFileAt(ctx, *in, *out, k, f, l))
		}
	},
}}

// readPublicKey parses the public key (any form gm.ParsePublicKey reads,
// or a certificate) in the file named v or in v itself.
func readPublicKey(flagName, v string) (*ecdsa.PublicKey, error) {
	if err := cli.Required(flagName, v); err != nil {
		return nil, err
	}
	pub, err := gm.LoadPublicKey(v)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	return pub, nil
}

func readPrivateKey(path string) (*sm2.PrivateKey, error) {
	if path == "" {
		return nil, errors.New("--key is required (a private key file: PEM PKCS#8 or EC PRIVATE KEY, DER, or hex)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	k, err := gm.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return k, nil
}

func layoutFlag(fs *flag.FlagSet) *string {
	return fs.String("layout", "c1c3c2", "SM2 ciphertext layout: c1c3c2, c1c2c3 or asn1")
}

// flagFileError names the flag of the file a gm.FileError is about.
func flagFileError(err error) error {
	var fe *gm.FileError
	if errors.As(err, &fe) {
		return fmt.Errorf("--%s: %w", fe.Which, fe.Err)
	}
	return err
}
