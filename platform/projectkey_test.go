package platform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// openApplyData opens the applydata of the baohanapply the fake
// institution received for applyNo, as the bidder would.
func (e *env) openApplyData(applyNo string, bidder *testca.Identity) protocol.ApplyData {
	e.t.Helper()
	rs := e.inst.received(protocol.BaohanApply, applyNo)
	if len(rs) == 0 {
		e.t.Fatalf("no baohanapply for %s", applyNo)
	}
	plain, err := gm.OpenEnvelope(bidder.Key, rs[0].Fields["applydata"], rs[0].Fields["digitalenvelope"], gm.C1C3C2)
	if err != nil {
		e.t.Fatalf("opening the applydata of %s: %v", applyNo, err)
	}
	var d protocol.ApplyData
	if err := json.Unmarshal(plain, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// TestProjectKeyPerApplication: two applications of one section carry
// their project fields under two different keys, each the one its own
// baohanrestore will carry, so the ciphertexts differ (名单保密: an
// institution cannot link the bidders of a section before the opening).
func TestProjectKeyPerApplication(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		a := e.applied(sec)
		e.bidder(e.pki.bidder2)
		b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		da, db := e.openApplyData(a.ApplyNo, e.pki.bidder), e.openApplyData(b.ApplyNo, e.pki.bidder2)
		ka, err := e.svc.applicationKey(e.ctx, e.svc.db, a.ApplyNo)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := e.svc.applicationKey(e.ctx, e.svc.db, b.ApplyNo)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(ka, kb) {
			t.Fatal("the two applications share a project key")
		}
		for _, f := range []struct{ name, a, b, want string }{
			{"biaoduanno", da.BiaoduanNo, db.BiaoduanNo, sec.No},
			{"biaoduanname", da.BiaoduanName, db.BiaoduanName, sec.Name},
			{"zbr", da.Zbr, db.Zbr, sec.Tenderer},
			{"zbrorgnum", da.ZbrOrgNum, db.ZbrOrgNum, sec.TendererCode},
		} {
			if f.a == f.b {
				t.Errorf("%s: both applications carry %q", f.name, f.a)
			}
			for _, c := range []struct {
				ct  string
				key []byte
			}{{f.a, ka}, {f.b, kb}} {
				if got, err := gm.DecryptField(c.key, c.ct); err != nil || got != f.want {
					t.Errorf("%s under the application's key: %q, %v; want %q", f.name, got, err, f.want)
				}
			}
			if got, err := gm.DecryptField(kb, f.a); err == nil && got == f.want {
				t.Errorf("%s of one application opens with the other's key", f.name)
			}
		}
	})
}

// legacy makes application applyNo one of those made before applications
// had a project key of their own: the key is its section's (sealed in
// plat_sections), its own column NULL. It returns the section key.
func (e *env) legacy(sectionNo, applyNo string) []byte {
	e.t.Helper()
	key := gm.NewKey()
	sealed, err := e.svc.mk.Seal(key, sectionKeyContext(sectionNo))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE plat_sections SET key_sealed = ? WHERE section_no = ?`, []any{sealed, sectionNo}},
		{`UPDATE plat_applications SET key_sealed = NULL WHERE applyno = ?`, []any{applyNo}},
	} {
		if _, err := e.svc.db.ExecContext(e.ctx, e.svc.db.Rebind(q.sql), q.args...); err != nil {
			e.t.Fatal(err)
		}
	}
	return key
}

// TestLegacyApplicationRestoredWithSectionKey: an application made before
// applications had their own project key is restored with its section's
// key, at the opening and not before; an application of the same section
// made since is restored with its own.
func TestLegacyApplicationRestoredWithSectionKey(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		old, _ := e.withCipher(sec)
		sectionKey := b64(e.legacy(sec.No, old.ApplyNo))
		e.bidder(e.pki.bidder2)
		b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "notice", e.send(protocol.BaohanNotice, e.noticeFields(b.ApplyNo, "BHNO-NEW", "1")))
		wantOK(t, "cipher", e.sendGuarantee(b.ApplyNo, "BHNO-NEW", "1", guaranteeOFD(t, e.pki, gdoc{applyNo: b.ApplyNo, baohanNo: "BHNO-NEW", bidder: e.pki.bidder2}), plainUpload()))
		own := e.projectKeyB64(b.ApplyNo)
		if got := e.projectKeyB64(old.ApplyNo); got != sectionKey || own == sectionKey {
			t.Fatalf("keys: legacy %s (section %s), new %s", got, sectionKey, own)
		}
		if _, _, err := e.svc.releaseProjectKey(e.ctx, sec.No, old.ApplyNo); !errors.Is(err, ErrKeyNotDue) {
			t.Fatalf("releaseProjectKey of the legacy application before the opening: %v", err)
		}
		e.settle()
		if e.keyLeaked(sectionKey) || e.keyLeaked(own) {
			t.Fatal("a key left before the opening")
		}
		e.clock.Set(sec.KaibiaoTime)
		e.eventually("both restores", func() bool {
			return e.app(old.ApplyNo).State == Restored && e.app(b.ApplyNo).State == Restored
		})
		for no, want := range map[string]string{old.ApplyNo: sectionKey, b.ApplyNo: own} {
			rs := e.inst.received(protocol.BaohanRestore, no)
			if len(rs) != 1 || rs[0].Fields["key"] != want {
				t.Errorf("restores of %s: %v, want the key %s", no, rs, want)
			}
		}
	})
}

// TestMigrationKeepsLegacySectionKeys upgrades a database made before
// 00003: its applications keep their section's key (key_sealed NULL), a
// section with applications keeps its key, one without loses it.
func TestMigrationKeepsLegacySectionKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dbURL, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		before := fstest.MapFS{}
		for _, name := range []string{"00001_platform.sql", "00002_key_released.sql"} {
			b, err := fs.ReadFile(Migrations(), name)
			if err != nil {
				t.Fatal(err)
			}
			before[name] = &fstest.MapFile{Data: b}
		}
		if err := db.Migrate(ctx, before, VersionTable); err != nil {
			t.Fatal(err)
		}
		mk, err := gm.NewMasterKey(gm.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string][]byte{"S-USED": gm.NewKey(), "S-IDLE": gm.NewKey()}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctx, db.Rebind(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		now := time.Now().UnixMicro()
		for no, k := range keys {
			sealed, err := mk.Seal(k, sectionKeyContext(no))
			if err != nil {
				t.Fatal(err)
			}
			exec(`INSERT INTO plat_sections (section_no, name, tenderer, bond_amount, kaibiao_at, key_sealed, created_at, updated_at)
				VALUES (?, '标段', '招标人', '1000.00', ?, ?, ?, ?)`, no, now+3600e6, sealed, now, now)
		}
		exec(`INSERT INTO plat_bidders (credit_code, name, cert_pem, created_at, updated_at) VALUES ('B1', '投标人', '', ?, ?)`, now, now)
		exec(`INSERT INTO plat_applications (applyno, section_no, bidder_code, institution, product, rate, bond_amount, state, version, created_at, updated_at)
			VALUES ('BH-OLD', 'S-USED', 'B1', 'bank', '投标保函', '0.005', '1000.00', ?, 0, ?, ?)`, string(CipherReceived), now, now)

		for range 2 { // idempotent
			if err := db.Migrate(ctx, Migrations(), VersionTable); err != nil {
				t.Fatal(err)
			}
		}
		var own *string
		if err := db.QueryRowContext(ctx, `SELECT key_sealed FROM plat_applications WHERE applyno = 'BH-OLD'`).Scan(&own); err != nil || own != nil {
			t.Fatalf("the legacy application's own key: %v, %v; want NULL", own, err)
		}
		var idle string
		if err := db.QueryRowContext(ctx, `SELECT key_sealed FROM plat_sections WHERE section_no = 'S-IDLE'`).Scan(&idle); err != nil || idle != "" {
			t.Fatalf("the key of a section without applications: %.20q, %v; want none", idle, err)
		}
		s := &Service{db: db, mk: mk}
		got, err := s.applicationKey(ctx, db, "BH-OLD")
		if err != nil || !bytes.Equal(got, keys["S-USED"]) {
			t.Fatalf("the legacy application's key: %x, %v; want its section's %x", got, err, keys["S-USED"])
		}
		// A new application of the old section has a key of its own.
		sealed, err := mk.Seal(gm.NewKey(), projectKeyContext("BH-NEW"))
		if err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO plat_applications (applyno, section_no, bidder_code, institution, product, rate, bond_amount, state, version, key_sealed, created_at, updated_at)
			VALUES ('BH-NEW', 'S-USED', 'B1', 'bank', '投标保函', '0.005', '1000.00', ?, 0, ?, ?, ?)`, string(CipherReceived), sealed, now, now)
		if got, err := s.applicationKey(ctx, db, "BH-NEW"); err != nil || bytes.Equal(got, keys["S-USED"]) {
			t.Fatalf("the new application's key: %x, %v", got, err)
		}
		// No key at all is an error, not an empty key.
		exec(`INSERT INTO plat_applications (applyno, section_no, bidder_code, institution, product, rate, bond_amount, state, version, created_at, updated_at)
			VALUES ('BH-NONE', 'S-IDLE', 'B1', 'bank', '投标保函', '0.005', '1000.00', ?, 0, ?, ?)`, string(CipherReceived), now, now)
		if got, err := s.applicationKey(ctx, db, "BH-NONE"); err == nil {
			t.Fatalf("an application with no key: %s", base64.StdEncoding.EncodeToString(got))
		}
	})
}
