package platform

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// ApplyInput is a bidder's application: a section, an institution and
// one of its products.
type ApplyInput struct {
	SectionNo   string `json:"section_no"`
	BidderCode  string `json:"bidder_code"`
	Institution string `json:"institution"`
	Product     string `json:"product"`
}

// Apply creates an application and, in the same transaction, enqueues
// baohanapply to the institution: applydata is the 7-field JSON with the
// four project fields each SM4-ECB encrypted under the application's
// project key, the whole SM4 encrypted under a fresh key, and that key
// SM2-wrapped for the bidder's certificate in the institution's layout
// (digitalenvelope). The redirecturl of the answer is stored on the
// application for the bidder.
//
// The project key is the application's own: 16 fresh random bytes, sealed
// with the master key in the application's row until its baohanrestore
// carries it at the bid opening. With one key per section the cipher
// being deterministic, every application of a section would carry the
// same four ciphertexts, and an institution would see which of its
// bidders compete in one section before the opening (名单保密).
func (s *Service) Apply(ctx context.Context, in ApplyInput) (*Application, error) {
	in.SectionNo, in.BidderCode = strings.TrimSpace(in.SectionNo), strings.TrimSpace(in.BidderCode)
	inst, ok := s.cfg.institution(in.Institution)
	if !ok {
		return nil, inputErr("institution", "unknown institution %q", in.Institution)
	}
	prod, ok := inst.Product(in.Product)
	if !ok {
		names := make([]string, len(inst.Products))
		for i, p := range inst.Products {
			names[i] = p.Name
		}
		return nil, inputErr("product", "institution %s has no product %q (it has: %s)", inst.Name, in.Product, strings.Join(names, ", "))
	}
	peer := s.peers[inst.Name]
	now := s.now()
	applyNo := NewApplyNo(now)
	key := gm.NewKey()
	defer clear(key)
	keySealed, err := s.mk.Seal(key, projectKeyContext(applyNo))
	if err != nil {
		return nil, fmt.Errorf("sealing the project key of applyno %s: %w", applyNo, err)
	}
	var created *Application
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		sec, err := s.sectionQ(ctx, tx, in.SectionNo)
		if errors.Is(err, ErrNotFound) {
			return inputErr("section_no", "unknown section %q", in.SectionNo)
		}
		if err != nil {
			return err
		}
		if !now.Before(sec.KaibiaoTime) {
			return inputErr("section_no", "section %s opened at %s; applications are closed", sec.No, protocol.FormatTime(sec.KaibiaoTime))
		}
		bidder, err := s.bidderQ(ctx, tx, in.BidderCode)
		if errors.Is(err, ErrNotFound) {
			return inputErr("bidder_code", "unknown bidder %q", in.BidderCode)
		}
		if err != nil {
			return err
		}
		if live, err := s.liveApplication(ctx, tx, in.BidderCode, in.SectionNo); err != nil {
			return err
		} else if live != "" {
			return inputErr("bidder_code", "bidder %s already has application %s for section %s", in.BidderCode, live, in.SectionNo)
		}
		var fields map[string]string
		if peer.Profile.Revision.Flat() {
			fields, err = buildFlatApply(key, sec, bidder)
		} else {
			var applydata, envelope string
			applydata, envelope, err = s.buildApplyData(key, sec, bidder, peer.Profile)
			fields = map[string]string{"platformcode": peer.PlatformCode, "applydata": applydata, "digitalenvelope": envelope}
		}
		if err != nil {
			return err
		}
		fields["applyno"] = applyNo
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_applications
			(applyno, section_no, bidder_code, institution, product, rate, bond_amount, state, version, key_sealed, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`),
			applyNo, sec.No, bidder.CreditCode, inst.Name, prod.Name, prod.Rate.String(), sec.BondAmount.StringFixed(2),
			string(None), keySealed, store.Micros(now), store.Micros(now))
		if err != nil {
			return err
		}
		a, err := s.loadApplication(ctx, tx, applyNo, true)
		if err != nil {
			return err
		}
		if err := s.move(ctx, tx, a, EvApply, ActorAdmin, map[string]string{
			"section": sec.No, "bidder": bidder.CreditCode, "institution": inst.Name, "product": prod.Name,
		}, nil); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, a, protocol.BaohanApply, fields); err != nil {
			return err
		}
		// As written: after the commit the delivery may already have moved it on.
		created, err = s.loadApplication(ctx, tx, applyNo, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("application created", "applyno", applyNo, "institution", inst.Name, "product", prod.Name)
	return created, nil
}

// liveApplication returns the applyno of the bidder's application for the
// section that is not in a final state, or "".
func (s *Service) liveApplication(ctx context.Context, q store.Querier, bidder, section string) (string, error) {
	var final []string
	for _, st := range States {
		if st.Final() {
			final = append(final, "'"+string(st)+"'")
		}
	}
	var applyNo string
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT applyno FROM plat_applications
		WHERE bidder_code = ? AND section_no = ? AND state NOT IN (`+strings.Join(final, ", ")+`) LIMIT 1`),
		bidder, section).Scan(&applyNo)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return applyNo, err
}

// buildFlatApply makes the fields of a baohanapply of the flat revision
// (EXTENSIONS.md §2): no envelope, no platformcode; the project fields,
// the deposit deadline (bzjenddate: the section's bid opening) and the
// insured party's contact SM4-ECB encrypted under key, the application's
// project key; the bidder's name, code, contact and the amount plain.
func buildFlatApply(key []byte, sec *Section, bidder *Bidder) (map[string]string, error) {
	var missing []error
	need := func(field, what, v string) {
		if v == "" {
			missing = append(missing, inputErr(field, "%s is required by institutions of the flat revision (%s)", what, field))
		}
	}
	need("contact_name", "the contact person of bidder "+bidder.CreditCode, bidder.ContactName)
	need("contact_phone", "the contact phone of bidder "+bidder.CreditCode, bidder.ContactPhone)
	need("insured_contact", "the insured party's contact of section "+sec.No, sec.InsuredContact)
	need("insured_phone", "the insured party's phone of section "+sec.No, sec.InsuredPhone)
	need("insured_address", "the insured party's address of section "+sec.No, sec.InsuredAddress)
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	f := map[string]string{
		"biddername": bidder.Name, "biddercode": bidder.CreditCode, "bzjamount": sec.BondAmount.StringFixed(2),
		"biddercontactname": bidder.ContactName, "biddercontactphone": bidder.ContactPhone,
	}
	for name, v := range map[string]string{
		"biaoduanno": sec.No, "biaoduanname": sec.Name, "zbr": sec.Tenderer, "zbrorgnum": sec.TendererCode,
		"bzjenddate": protocol.FormatTime(sec.KaibiaoTime), "insuredcontactname": sec.InsuredContact,
		"insuredcontactphone": sec.InsuredPhone, "insuredaddress": sec.InsuredAddress,
	} {
		if v == "" {
			continue
		}
		c, err := gm.EncryptField(key, v)
		if err != nil {
			return nil, err
		}
		f[name] = c
	}
	return f, nil
}

// buildApplyData makes applydata and digitalenvelope for a bidder's
// application to a section, the project fields under key, the
// application's project key, in the SM2 layout and encoding of the
// institution's profile.
func (s *Service) buildApplyData(key []byte, sec *Section, bidder *Bidder, prof transport.Profile) (applydata, envelope string, err error) {
	cert, err := gm.ParseCertificate([]byte(bidder.CertPEM))
	if err != nil {
		return "", "", fmt.Errorf("bidder %s: certificate: %w", bidder.CreditCode, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return "", "", fmt.Errorf("bidder %s: the certificate holds no SM2 key", bidder.CreditCode)
	}
	if now := s.now(); now.After(cert.NotAfter) {
		return "", "", inputErr("bidder_code", "the certificate of bidder %s expired on %s; register the bidder's new certificate", bidder.CreditCode, protocol.FormatTime(cert.NotAfter))
	}
	enc := func(v string) (string, error) {
		if v == "" {
			return "", nil
		}
		return gm.EncryptField(key, v)
	}
	d := protocol.ApplyData{BidderName: bidder.Name, BidderCode: bidder.CreditCode, BzjAmount: sec.BondAmount.StringFixed(2)}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&d.BiaoduanNo, sec.No}, {&d.BiaoduanName, sec.Name}, {&d.Zbr, sec.Tenderer}, {&d.ZbrOrgNum, sec.TendererCode}} {
		if *f.dst, err = enc(f.v); err != nil {
			return "", "", err
		}
	}
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(false)
	if err := je.Encode(d); err != nil {
		return "", "", err
	}
	plain := bytes.TrimSpace(buf.Bytes())
	if _, vs := protocol.ValidateApplyData(plain); len(vs) > 0 {
		return "", "", fmt.Errorf("applydata of section %s and bidder %s: %s", sec.No, bidder.CreditCode, protocol.JoinViolations(vs, 0))
	}
	applydata, envelope, err = gm.SealEnvelopeAs(pub, plain, prof.SM2Layout, prof.Encoding)
	if err != nil {
		return "", "", fmt.Errorf("sealing applydata for bidder %s: %w", bidder.CreditCode, err)
	}
	limit := maxApplyData
	if prof.Encoding == gm.Hex {
		limit = maxApplyData * 3 / 2 // the same bytes as maxApplyData of base64 (protocol.Field.Binary)
	}
	if len(applydata) > limit {
		return "", "", fmt.Errorf("applydata of section %s and bidder %s is %d characters encrypted, more than the %d the interface allows (shorten the section name or the bidder name)",
			sec.No, bidder.CreditCode, len(applydata), limit)
	}
	return applydata, envelope, nil
}

// enqueue puts a call to the application's institution in the outbox, in
// tx. The fields are checked against the interface's rules first, so that
// the platform never sends what the institution must refuse. Calls of one
// application go out in order (one sequence group per applyno), except the
// scheduled restores, which must not hold the others back.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, a *Application, i protocol.Interface, fields map[string]string) error {
	peer, ok := s.peers[a.Institution]
	if !ok {
		return fmt.Errorf("institution %s is not configured", a.Institution)
	}
	check := make(map[string]string, len(fields)+3)
	for k, v := range fields {
		check[k] = v
	}
	check["appkey"], check["timestamp"], check["sign"] = peer.AppKey, protocol.FormatTime(s.now()), strings.Repeat("0", 64)
	if vs := protocol.ValidateIn(peer.Profile.Revision, i, protocol.NewRequest(check)); len(vs) > 0 {
		return &InputError{Msg: fmt.Sprintf("%s for applyno %s: %s", i, a.ApplyNo, protocol.JoinViolations(vs, 0))}
	}
	_, err := s.disp.Enqueue(ctx, tx, store.OutMessage{
		Peer:      a.Institution,
		Interface: string(i),
		ApplyNo:   a.ApplyNo,
		Group:     "app:" + a.ApplyNo,
		DedupeKey: fmt.Sprintf("%s:%s:%d", i, a.ApplyNo, a.Version),
		Fields:    fields,
	}, s.now())
	return err
}
