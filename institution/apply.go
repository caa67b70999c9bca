package institution

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// tokenContext binds a sealed bidder token to its application.
func tokenContext(appID string) string { return "institution/bidder-token/" + appID }

// handleApply serves baohanapply: store the application with its
// encrypted applydata and envelope and answer the redirecturl. The same
// request again (same applydata and digitalenvelope) gets the same
// redirecturl; another body for a known applyno is refused.
//
// The new application's id and bidder token are made before the write
// transaction, and the transaction inserts first (ON CONFLICT DO NOTHING
// on the applyno) and reads the row only when the applyno is known: on
// SQLite every write transaction waits for the one writer, so what it does
// is kept short (it was a read of all 31 columns, the token made and
// sealed, two inserts; now two inserts).
func (s *Service) handleApply(ctx context.Context, in inbound) (any, error) {
	applyData, envelope := in.r.Get("applydata"), in.r.Get("digitalenvelope")
	var hash string
	if in.pp.peer.Profile.Revision.Flat() {
		// No envelope: the application is at the top level; it is kept
		// as the JSON applydata would decrypt to (project fields still
		// ciphertext) and the bidder opens it without a key.
		var err error
		if applyData, err = flatApplyData(in.r); err != nil {
			return nil, err
		}
		envelope = ""
		hash = requestHash(applyData, envelope)
	} else {
		ct, env, err := checkApplyCiphertexts(applyData, envelope, in.pp)
		if err != nil {
			return nil, err
		}
		// The request is known by what was sent; the ciphertexts are kept in
		// base64, whatever the platform's encoding (the bidder API shows
		// base64).
		hash = requestHash(applyData, envelope)
		applyData, envelope = base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(env)
	}
	id := newID()
	tok, th := newToken()
	sealed, err := s.mk.Seal([]byte(tok), tokenContext(id))
	if err != nil {
		return nil, err
	}
	var redirect string
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		a := &Application{
			ID: id, Peer: in.pp.cfg.Name, PlatformCode: in.platformCode(), ApplyNo: in.applyNo,
			State: Received, applyData: applyData, envelope: envelope, requestHash: hash,
			tokenHash: th, tokenSealed: sealed, CreatedAt: now, UpdatedAt: now,
		}
		inserted, err := s.repo.insertNewApplication(ctx, tx, a)
		if err != nil {
			return err
		}
		if inserted {
			if err := s.repo.insertEvent(ctx, tx, a.ID, now, "", Received, string(protocol.BaohanApply), "platform:"+in.pp.cfg.Name, ""); err != nil {
				return err
			}
			redirect = s.bidderURL(tok)
			return nil
		}
		// The applyno is known: the same request again, or another.
		a, err = s.repo.applicationByApplyNo(ctx, tx, in.platformCode(), in.applyNo)
		if err != nil {
			return err
		}
		if a.requestHash != hash {
			return baohan.Refusef("applyno %q was already received with other applydata or digitalenvelope; a new application needs a new applyno", in.applyNo)
		}
		if a.Peer != in.pp.cfg.Name {
			return baohan.Refusef("applyno %q is unknown at this institution (platformcode %q)", in.applyNo, in.platformCode())
		}
		known, err := s.mk.Open(a.tokenSealed, tokenContext(a.ID))
		if err != nil {
			return fmt.Errorf("opening the bidder token of %s: %w", a.ID, err)
		}
		redirect = s.bidderURL(string(known))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(redirect) > protocol.ResultMaxRedirectURL {
		// The configuration makes every URL too long; say so loudly.
		s.logger.ErrorContext(ctx, "redirecturl longer than the spec allows; shorten listen.public_url", slog.Int("length", len(redirect)))
	}
	s.logger.InfoContext(ctx, "application received", slog.String("peer", in.pp.cfg.Name), slog.String("applyno", in.applyNo))
	return protocol.ApplyResult{RedirectURL: redirect}, nil
}

// bidderURL is the redirecturl for a bidder token.
func (s *Service) bidderURL(token string) string {
	return s.cfg.Listen.PublicURL + "/bidder/" + token
}

// flatApplyData is the application of a flat baohanapply (EXTENSIONS.md
// §2) as JSON: its fields (extras dropped), the encrypted ones checked to
// be base64 SM4 ciphertext so that a broken application is refused now.
func flatApplyData(r *protocol.Request) (string, error) {
	var d protocol.FlatApplyData
	if err := protocol.Decode(r, &d); err != nil {
		return "", baohan.Refusef("%v", err)
	}
	for _, name := range protocol.FlatEncrypted {
		v := r.Get(name)
		if v == "" {
			continue
		}
		ct, err := gm.DecodeBase64(v)
		if err != nil {
			return "", baohan.Refusef("%s (密文): %v", name, err)
		}
		if len(ct) == 0 || len(ct)%16 != 0 {
			return "", baohan.Refusef("%s (密文): %d bytes is not SM4 ciphertext under the project key (a multiple of 16 bytes)", name, len(ct))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

// checkApplyCiphertexts refuses applydata that is not SM4 ciphertext and
// a digitalenvelope that is not an SM2 ciphertext of a 16-byte key in the
// platform's layout (either in base64 or hex, gm.Encoding.Decode), so
// that a broken application is refused now, not when the bidder tries to
// open it. It returns the two ciphertexts.
func checkApplyCiphertexts(applyData, envelope string, pp *platformPeer) (ct, env []byte, err error) {
	enc := pp.peer.Profile.Encoding
	ct, err = enc.Decode(applyData)
	if err != nil {
		return nil, nil, baohan.Refusef("applydata: %v", err)
	}
	if len(ct) == 0 || len(ct)%16 != 0 {
		return nil, nil, baohan.Refusef("applydata: %d bytes is not SM4 ciphertext (a multiple of 16 bytes)", len(ct))
	}
	env, err = enc.Decode(envelope)
	if err != nil {
		return nil, nil, baohan.Refusef("digitalenvelope: %v", err)
	}
	layout := pp.peer.Profile.SM2Layout
	asn1 := len(env) >= 100 && env[0] == 0x30
	switch {
	case layout == gm.ASN1 && !asn1:
		return nil, nil, baohan.Refusef("digitalenvelope: %d bytes is not an ASN.1 SM2 ciphertext (%s)", len(env), gm.DescribeSM2Ciphertext(env))
	case layout == gm.ASN1, layout == gm.AutoLayout && asn1:
		return ct, env, nil
	}
	// C1 (65 with the 04 prefix, 64 without) + C3 (32) + C2 (16).
	if n := len(env); n != 113 && n != 112 {
		return nil, nil, baohan.Refusef("digitalenvelope: %d bytes is not the SM2 %s ciphertext of a 16-byte key (113 bytes expected; %s)", n, layout, gm.DescribeSM2Ciphertext(env))
	}
	return ct, env, nil
}
