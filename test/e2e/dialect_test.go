package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// dialect is a configuration of both sides: plat edits the institution
// as the platform knows it, inst the platform as the institution knows
// it. Each side is configured for the other (the same values), unless
// the case shows an inbound liberty.
type dialect struct {
	name       string
	plat, inst config.Peer // only the dialect keys are read
	chunk      int         // the harness's chunk_size (0: its default)
}

func (d dialect) apply(dst *config.Peer, src config.Peer) {
	dst.Sign, dst.Encoding, dst.SM2Layout, dst.FileDigest = src.Sign, src.Encoding, src.SM2Layout, src.FileDigest
	if src.ChunkSize != 0 {
		dst.ChunkSize = src.ChunkSize
	}
	if src.MaxChunkSize != 0 {
		dst.MaxChunkSize = src.MaxChunkSize
	}
}

func dialects() []dialect {
	var ds []dialect
	same := func(name string, p config.Peer) dialect { return dialect{name: name, plat: p, inst: p} }
	// Every sign with every encoding.
	for _, sign := range protocol.SignVariants {
		for _, enc := range []gm.Encoding{gm.Base64, gm.Hex} {
			ds = append(ds, same("sign="+sign.String()+",encoding="+enc.String(), config.Peer{Sign: sign.String(), Encoding: enc.String()}))
		}
	}
	// Every other SM2 layout and file digest.
	for _, l := range []string{"c1c2c3", "asn1", "auto"} {
		ds = append(ds, same("sm2_layout="+l, config.Peer{SM2Layout: l}))
	}
	for _, fd := range []string{"md5", "sm3-ciphertext", "md5-ciphertext", "auto"} {
		ds = append(ds, same("file_digest="+fd, config.Peer{FileDigest: fd}))
	}
	// The chunk the institution sends, at the platform's max_chunk_size.
	ds = append(ds, dialect{name: "chunk_size=max_chunk_size=1024", chunk: 1024,
		plat: config.Peer{MaxChunkSize: 1024}, inst: config.Peer{ChunkSize: 1024}})
	// Inbound liberties: a platform left at the defaults reads an
	// institution that writes hex, and one set to file_digest auto reads
	// an MD5 over the uploaded bytes.
	ds = append(ds,
		dialect{name: "liberal:encoding=hex→base64", plat: config.Peer{}, inst: config.Peer{Encoding: "hex"}},
		dialect{name: "liberal:file_digest=md5-ciphertext→auto", plat: config.Peer{FileDigest: "auto"}, inst: config.Peer{FileDigest: "md5-ciphertext"}},
	)
	return ds
}

// TestDialectLifecycle runs the whole life of a guarantee (apply, the
// bidder, baohannotice, the ciphertext guarantee, the opening and
// baohanrestore, the plaintext guarantee, the invoice) between this
// project's platform and institution for every value of every dialect
// key and every pair sign × encoding, and checks on the wire that each
// side spoke the dialect it was given.
func TestDialectLifecycle(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(d.chunk), harness.WithPlatformPeer(func(p *config.Peer) { d.apply(p, d.plat) }), harness.WithInstitutionPeer(func(p *config.Peer) { d.apply(p, d.inst) }))
			applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
			s.Clock.Advance(time.Hour + time.Second)
			s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
			s.WaitInst(applyNo, institution.Restored, 30*time.Second)
			for _, p := range s.CheckAll(applyNo) {
				t.Error(p)
			}
			if _, err := s.Plat.RequestInvoice(context.Background(), applyNo, platform.InvoiceInput{Type: protocol.InvoiceOrdinary}); err != nil {
				t.Fatal(err)
			}
			s.WaitPlat(applyNo, platform.Invoiced, 30*time.Second)
			// The door records an exchange once its answer is written,
			// after the platform moved to invoiced.
			s.Eventually("the invoicenotice through the platform's door", 10*time.Second, func() bool {
				for _, ex := range s.PlatDoor.Exchanges() {
					if a, ok := harness.Answer(ex.Response); ok && a.Code == protocol.CodeOK && strings.HasSuffix(ex.Path, "/"+string(protocol.InvoiceNotice)) {
						return true
					}
				}
				return false
			})
			checkWire(t, s, d)
		})
	}
}

// checkWire reads every exchange through both doors: each was answered
// in JSON, none refused for its sign, and the requests carry the dialect.
func checkWire(t *testing.T, s *harness.System, d dialect) {
	t.Helper()
	platSees, _ := (config.Peer{Name: "i", AppKey: "k", AppSecret: "s", Sign: d.plat.Sign, Encoding: d.plat.Encoding,
		SM2Layout: d.plat.SM2Layout, FileDigest: d.plat.FileDigest}).Transport()
	instSees, _ := (config.Peer{Name: "p", AppKey: "k", AppSecret: "s", Sign: d.inst.Sign, Encoding: d.inst.Encoding,
		SM2Layout: d.inst.SM2Layout, FileDigest: d.inst.FileDigest}).Transport()
	chunks := map[string][]indexed{} // filetype -> chunks
	var completes []*protocol.Request
	seen := map[protocol.Interface]bool{}
	for _, door := range []*harness.Door{s.PlatDoor, s.InstDoor} {
		// A request through the platform's door was written by the
		// institution, in the dialect it was given for the platform.
		writer := instSees.Profile
		if door == s.InstDoor {
			writer = platSees.Profile
		}
		for _, ex := range door.Exchanges() {
			name, isInterface := protocol.Lookup(ex.Path[strings.LastIndex(ex.Path, "/")+1:])
			if !isInterface || strings.Contains(ex.Path, "/bidder/") {
				continue // the bidder's API at the institution
			}
			ans, ok := harness.Answer(ex.Response)
			if !ok {
				t.Errorf("%s: not a JSON answer: HTTP %d %.200s", name, ex.Status, ex.Response)
				continue
			}
			if strings.Contains(ans.Message, "sign mismatch") {
				t.Errorf("%s: %s", name, ans.Message)
			}
			if n := len([]rune(ans.Message)); n > protocol.MaxMessage {
				t.Errorf("%s: message of %d characters", name, n)
			}
			r, err := protocol.ParseRequest(ex.Request)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if ans.Code == protocol.CodeOK {
				seen[name] = true
			}
			// The sign is the writer's variant, and only that.
			if res := protocol.VerifyAs(r, harness.AppSecret, writer.Sign); !res.OK {
				t.Errorf("%s: not signed as %s: %s", name, writer.Sign, res.Diagnosis())
			}
			if n := len(r.Get(protocol.SignField)); n != writer.Sign.HexLen() {
				t.Errorf("%s: sign of %d characters", name, n)
			}
			for _, f := range binaryFields[name] {
				v := r.Get(f)
				if v == "" {
					continue
				}
				if isHex := isLowerHex(v); isHex != (writer.Encoding == gm.Hex) {
					t.Errorf("%s: %s is not %s: %.60s", name, f, writer.Encoding, v)
				}
			}
			switch name {
			case protocol.BaohanApply:
				// The envelope is in the writer's layout: the bidder's key
				// opens it in that layout alone (auto writes C1C3C2).
				env, err := gm.DecodeBinary(r.Get("digitalenvelope"))
				if err != nil {
					t.Fatal(err)
				}
				strict := writer.SM2Layout
				if strict == gm.AutoLayout {
					strict = gm.C1C3C2
				}
				if _, err := gm.SM2Decrypt(s.PKI.Bidder.Key, env, strict); err != nil {
					t.Errorf("baohanapply: the envelope is not %s: %v", strict, err)
				}
			case protocol.UploadBaohanFile:
				b, err := gm.DecodeBinary(r.Get("baohanfile"))
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > writer.ChunkSize {
					t.Errorf("uploadbaohanfile: a chunk of %d bytes, chunk_size %d", len(b), writer.ChunkSize)
				}
				i, _ := strconv.Atoi(r.Get("index"))
				chunks[r.Get("filetype")] = append(chunks[r.Get("filetype")], indexed{i, b})
			case protocol.BaohanFileCompleteNotice:
				if ans.Code == protocol.CodeOK {
					completes = append(completes, r)
				}
			}
		}
	}
	for _, i := range []protocol.Interface{protocol.BaohanApply, protocol.BaohanNotice, protocol.DownloadPublicKey, protocol.UploadBaohanFile,
		protocol.BaohanFileCompleteNotice, protocol.BaohanRestore, protocol.InvoiceApply, protocol.InvoiceNotice} {
		if !seen[i] {
			t.Errorf("%s was never answered with code 1", i)
		}
	}
	// baohanfilemd5: the institution's algorithm, over what its
	// file_digest says.
	if len(completes) != 2 {
		t.Fatalf("%d accepted baohanfilecompletenotice, want 2", len(completes))
	}
	for _, c := range completes {
		want := c.Get("baohanfilemd5")
		if len(want) != instSees.Profile.FileDigest.HexLen() {
			t.Errorf("baohanfilemd5 %s is not %s", want, instSees.Profile.FileDigest)
		}
		cs := chunks[c.Get("filetype")]
		sort.Slice(cs, func(i, j int) bool { return cs[i].index < cs[j].index })
		var uploaded bytes.Buffer
		for _, ch := range cs {
			uploaded.Write(ch.b)
		}
		overCipher, _ := gm.FileDigest(bytes.NewReader(uploaded.Bytes()), instSees.Profile.FileDigest)
		if (overCipher == want) != (instSees.Profile.DigestOver == gm.OverCiphertext) {
			t.Errorf("filetype %s: baohanfilemd5 over the uploaded bytes: %v, file_digest %s", c.Get("filetype"), overCipher == want,
				gm.FileDigestName(instSees.Profile.FileDigest, instSees.Profile.DigestOver))
		}
	}
}

type indexed struct {
	index int
	b     []byte
}

// binaryFields are the fields the encoding key governs.
var binaryFields = map[protocol.Interface][]string{
	protocol.BaohanApply:              {"applydata", "digitalenvelope"},
	protocol.UploadBaohanFile:         {"baohanfile"},
	protocol.BaohanFileCompleteNotice: {"key", "iv"},
	protocol.BaohanRestore:            {"key"},
}

func isLowerHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
