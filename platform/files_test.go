package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

func TestUploadRules(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		a := e.applied(sec)
		up := func(applyNo, baohanNo, fileType, index string, data []byte) *protocol.Response {
			return e.send(protocol.UploadBaohanFile, map[string]string{"applyno": applyNo, "baohanno": baohanNo,
				"filetype": fileType, "index": index, "baohanfile": b64(data)})
		}
		chunk1 := bytes.Repeat([]byte{1}, 32)
		wantFail(t, "plaintext before approval", up(a.ApplyNo, "BHNO-1", "2", "1", chunk1),
			fmt.Sprintf("applyno %s is applied (已申请): the plaintext guarantee (filetype 2) is not allowed in this state; the plaintext guarantee is accepted only after the restore (baohanrestore) released the project key", a.ApplyNo))
		// Some institutions upload the ciphertext guarantee first
		// (upload_first): held until the notice.
		wantOK(t, "ciphertext before approval", up(a.ApplyNo, "BHNO-1", "1", "1", chunk1))
		wantOK(t, "notice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, "BHNO-1", "1")))

		wantOK(t, "chunk 1", up(a.ApplyNo, "BHNO-1", "1", "1", chunk1))
		wantOK(t, "chunk 1 again, same bytes", up(a.ApplyNo, "BHNO-1", "1", "1", chunk1))
		r := up(a.ApplyNo, "BHNO-1", "1", "1", bytes.Repeat([]byte{2}, 32))
		wantFailContains(t, "chunk 1 with other bytes", r, "index 1 was already received with different content (sm3 ", "); a chunk cannot be replaced")
		wantFail(t, "wrong baohanno", up(a.ApplyNo, "OTHER", "1", "2", chunk1),
			fmt.Sprintf("baohanno OTHER does not match the guarantee BHNO-1 of applyno %s (from baohannotice)", a.ApplyNo))
		wantFail(t, "filetype 2 before the restore", up(a.ApplyNo, "BHNO-1", "2", "1", chunk1),
			fmt.Sprintf("applyno %s is approved (审核通过): the plaintext guarantee (filetype 2) is not allowed in this state; the plaintext guarantee is accepted only after the restore (baohanrestore) released the project key", a.ApplyNo))
		wantFail(t, "chunk too large", up(a.ApplyNo, "BHNO-1", "1", "2", make([]byte, 64<<10+16)),
			fmt.Sprintf("baohanfile (index 2) is %d bytes, more than the max_chunk_size of %d for appkey %s", 64<<10+16, 64<<10, testAppKey))
		wantFail(t, "unknown applyno", up("BH20260101ZZZZZZZZZZZZ", "BHNO-1", "1", "1", chunk1), "applyno BH20260101ZZZZZZZZZZZZ is unknown")
		wantFail(t, "other institution", e.sendAs(testAppKey2, testAppSecret2, protocol.UploadBaohanFile, map[string]string{"applyno": a.ApplyNo, "baohanno": "BHNO-1",
			"filetype": "1", "index": "3", "baohanfile": b64(chunk1)}), fmt.Sprintf("applyno %s was not sent to appkey %s", a.ApplyNo, testAppKey2))
	})
}

func TestCompleteRules(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		// three 64 KiB chunks and more
		docFor := func(a *Application, bn string) []byte {
			return guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, extra: 150 << 10})
		}

		t.Run("no public key", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			f := map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1", "key": "AAAA", "iv": "AAAA", "baohanfilemd5": strings.Repeat("0", 64)}
			wantOK(t, "chunk", e.send(protocol.UploadBaohanFile, map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1", "index": "1", "baohanfile": b64(make([]byte, 16))}))
			wantFail(t, "complete", e.send(protocol.BaohanFileCompleteNotice, f),
				fmt.Sprintf("no public key was issued for applyno %s: call downloadpublickey and encrypt key and iv with it", a.ApplyNo))
			e.giveupCleanup(a.ApplyNo)
		})

		t.Run("gap", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			doc := docFor(a, bn)
			u := upload{skip: 1, indexBase: 1}
			enc := e.encrypt(a.ApplyNo, doc, u)
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			wantFail(t, "gap", e.complete(a.ApplyNo, bn, "1", enc, u),
				fmt.Sprintf("the ciphertext guarantee (filetype 1) of applyno %s is incomplete: %s", a.ApplyNo, gapMessage(t, len(enc.chunks), 1)))
			// Sending the missing chunk completes it.
			wantOK(t, "missing chunk", e.send(protocol.UploadBaohanFile, map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1", "index": "2", "baohanfile": enc.chunks[1]}))
			wantOK(t, "complete", e.complete(a.ApplyNo, bn, "1", enc, u))
			e.wantState(a.ApplyNo, CipherReceived)
			wantOK(t, "complete again", e.complete(a.ApplyNo, bn, "1", enc, u))
			enc2 := *enc
			enc2.digest = strings.Repeat("1", 64)
			wantFailContains(t, "another file after completion", e.complete(a.ApplyNo, bn, "1", &enc2, u),
				fmt.Sprintf("the ciphertext guarantee (filetype 1) of applyno %s is already complete (sm3 ", a.ApplyNo))
			e.giveupCleanup(a.ApplyNo)
		})

		t.Run("bak1 count", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			doc := docFor(a, bn)
			u := upload{skip: -1, indexBase: 1, bak1: "9"}
			enc := e.encrypt(a.ApplyNo, doc, u)
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			r := e.complete(a.ApplyNo, bn, "1", enc, u)
			wantFailContains(t, "bak1", r, fmt.Sprintf("the ciphertext guarantee (filetype 1) of applyno %s is incomplete: ", a.ApplyNo))
			u.bak1 = fmt.Sprint(len(enc.chunks))
			wantOK(t, "bak1 right", e.complete(a.ApplyNo, bn, "1", enc, u))
		})

		t.Run("digest mismatch", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			doc := docFor(a, bn)
			u := plainUpload()
			enc := e.encrypt(a.ApplyNo, doc, u)
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			right := enc.digest
			enc.digest = strings.Repeat("a", 64)
			wantFail(t, "digest", e.complete(a.ApplyNo, bn, "1", enc, u),
				fmt.Sprintf("baohanfilemd5 mismatch: sent %s, computed sm3 %s of the %d decrypted bytes (file_digest sm3)", enc.digest, right, len(doc)))
			// The chunks were discarded: the file is sent again.
			enc.digest = right
			wantFail(t, "after discard", e.complete(a.ApplyNo, bn, "1", enc, u),
				fmt.Sprintf("no chunks of the ciphertext guarantee (filetype 1) were uploaded for applyno %s baohanno %s", a.ApplyNo, bn))
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			wantOK(t, "again", e.complete(a.ApplyNo, bn, "1", enc, u))
			h, _ := e.svc.History(e.ctx, a.ApplyNo)
			found := false
			for _, ev := range h {
				found = found || ev.Event == EvFileDiscarded
			}
			if !found {
				t.Error("the discarded upload is not in the history")
			}
		})

		t.Run("md5", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			doc := docFor(a, bn)
			u := upload{skip: -1, indexBase: 0, md5: true, shuffle: true, duplicates: true}
			wantOK(t, "md5, 0-based, shuffled, duplicates", e.sendGuarantee(a.ApplyNo, bn, "1", doc, u))
			g, err := e.svc.Guarantee(e.ctx, a.ApplyNo, 1)
			if err != nil || g.DigestAlg != "md5" || len(g.Digest) != 32 {
				t.Fatalf("guarantee %+v, %v", g, err)
			}
		})

		t.Run("wrong key", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			doc := docFor(a, bn)
			u := plainUpload()
			enc := e.encrypt(a.ApplyNo, doc, u)
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			// key and iv swapped: both unwrap, the decryption fails.
			enc.key, enc.iv = enc.iv, enc.key
			r := e.complete(a.ApplyNo, bn, "1", enc, u)
			wantFailContains(t, "swapped", r, "decrypting the ciphertext guarantee (filetype 1) failed", "key or iv do not belong to these chunks")
			// A key wrapped for another public key does not unwrap.
			other, _ := gm.GenerateKey()
			enc.key, _ = gm.WrapKey(&other.PublicKey, gm.NewKey(), gm.C1C3C2)
			e.sendChunks(a.ApplyNo, bn, "1", enc, u)
			wantFailContains(t, "foreign key", e.complete(a.ApplyNo, bn, "1", enc, u), "key: ")
		})

		t.Run("seal from an untrusted CA", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			rogue := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, rogue: true})
			r := e.sendGuarantee(a.ApplyNo, bn, "1", rogue, plainUpload())
			wantFailContains(t, "rogue", r, "the ciphertext guarantee (filetype 1) is refused: seal verification failed: signature ", "check chain failed")
			e.wantState(a.ApplyNo, Approved)
		})

		t.Run("not an OFD", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.approved(e.section(2 * time.Hour))
			r := e.sendGuarantee(a.ApplyNo, bn, "1", []byte("%PDF-1.7 not an ofd"), plainUpload())
			wantFailContains(t, "pdf", r, "seal verification failed: the decrypted file is not an OFD package")
		})

		t.Run("filetype 2 before restore", func(t *testing.T) {
			e := e.with(t)
			a, bn := e.withCipher(e.section(2 * time.Hour))
			f := map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "2", "key": "AAAA", "iv": "AAAA", "baohanfilemd5": strings.Repeat("0", 64)}
			wantFail(t, "filetype 2", e.send(protocol.BaohanFileCompleteNotice, f),
				fmt.Sprintf("applyno %s: the plaintext guarantee (filetype 2) refused: only after baohanrestore has released the project key for this application", a.ApplyNo))
		})
	})
}

var chunkCheck = chunk.CheckIndexes

// gapMessage is the chunk package's message for n chunks from 1 with the
// given index missing.
func gapMessage(t *testing.T, n, missing int) string {
	t.Helper()
	var idx []int
	for i := 1; i <= n; i++ {
		if i != missing+1 {
			idx = append(idx, i)
		}
	}
	_, err := chunkCheck(idx, 0)
	if err == nil {
		t.Fatal("no gap")
	}
	return err.Error()
}

// giveupCleanup ends an application so that the bidder may apply again.
func (e *env) giveupCleanup(applyNo string) {
	e.t.Helper()
	a := e.app(applyNo)
	if a.State.Final() {
		return
	}
	if a.State == Applied {
		wantOK(e.t, "giveupnotice", e.send(protocol.GiveupNotice, map[string]string{"applyno": applyNo}))
		return
	}
	if _, err := e.svc.Cancel(e.ctx, applyNo, "test cleanup"); err != nil {
		e.t.Fatal(err)
	}
	e.eventually("the cancel", func() bool { return e.app(applyNo).State == Cancelled })
}

// TestLargeGuarantee sends a 20 MB guarantee in chunks, out of order and
// with duplicates: it assembles, decrypts, matches its digest and its
// seals verify.
func TestLargeGuarantee(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB")
	}
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a, bn := e.approved(e.section(2 * time.Hour))
		doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, extra: 20 << 20})
		u := upload{skip: -1, indexBase: 1, shuffle: true, duplicates: true, chunkSize: 64 << 10}
		enc := e.encrypt(a.ApplyNo, doc, u)
		if len(enc.chunks) < 300 {
			t.Fatalf("only %d chunks", len(enc.chunks))
		}
		e.sendChunks(a.ApplyNo, bn, "1", enc, u)
		wantOK(t, "complete", e.complete(a.ApplyNo, bn, "1", enc, u))
		e.wantState(a.ApplyNo, CipherReceived)
		rc, g, err := e.svc.OpenGuarantee(e.ctx, a.ApplyNo, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, doc) || !g.SealsOK || g.Chunks != len(enc.chunks) {
			t.Fatalf("stored %d bytes (want %d), seals %v, chunks %d", len(got), len(doc), g.SealsOK, g.Chunks)
		}
		var v sealVerdict
		if err := json.Unmarshal(g.Report, &v); err != nil || !v.OK || v.Report == nil || len(v.Report.Signatures) != 1 {
			t.Fatalf("report %s: %v", g.Report, err)
		}
		// The chunks are gone once the file is complete.
		var n int
		e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind(`SELECT COUNT(*) FROM plat_chunks WHERE applyno = ?`), a.ApplyNo).Scan(&n)
		if n != 0 {
			t.Errorf("%d chunks left", n)
		}
	})
}

// TestConcurrentCompletion: the same completion notice sent several times
// at once (an impatient institution) records the guarantee once and
// answers every copy code 1.
func TestConcurrentCompletion(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a, bn := e.approved(e.section(2 * time.Hour))
		doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, extra: 200 << 10})
		u := plainUpload()
		enc := e.encrypt(a.ApplyNo, doc, u)
		e.sendChunks(a.ApplyNo, bn, "1", enc, u)
		peer := *e.peer
		peer.BaseURL = e.srv.URL
		const n = 4
		codes := make(chan string, n)
		for k := range n {
			go func() {
				f := map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1", "key": enc.key, "iv": enc.iv,
					"baohanfilemd5": enc.digest, "bak2": fmt.Sprint("copy ", k)}
				r, err := e.client.Call(e.ctx, &peer, protocol.BaohanFileCompleteNotice, f)
				if err != nil {
					codes <- err.Error()
					return
				}
				codes <- fmt.Sprintf("%d %s", r.Code, r.Message)
			}()
		}
		for range n {
			if c := <-codes; c != "1 success" {
				t.Errorf("answer %q", c)
			}
		}
		e.wantState(a.ApplyNo, CipherReceived)
		gs, _ := e.svc.Guarantees(e.ctx, a.ApplyNo, 10, 0)
		if len(gs) != 1 {
			t.Fatalf("%d guarantees", len(gs))
		}
	})
}

// TestStoredDigests: with the blobs in a directory and in the database,
// each chunk is stored with the SM3 of its bytes (in plat_chunks, in its
// blob key and, for the database, in the blobs table), and a completed
// guarantee records the SM3 of the decrypted OFD, which is the digest the
// institution sent when it uses SM3; with MD5 the digest is the MD5 and
// the SM3 is still that of the OFD.
func TestStoredDigests(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		for _, blobs := range []string{"dir", "db"} {
			t.Run(blobs, func(t *testing.T) {
				e := newEnv(t, dbURL, func(c *Config) { c.Storage.Blobs = blobs })
				for _, u := range []upload{plainUpload(), {skip: -1, indexBase: 1, md5: true}} {
					a, bn := e.approved(e.section(2 * time.Hour))
					doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, extra: 150 << 10})
					sm3OfDoc, _ := gm.FileDigest(bytes.NewReader(doc), gm.SM3)
					md5OfDoc, _ := gm.FileDigest(bytes.NewReader(doc), gm.MD5)
					enc := e.encrypt(a.ApplyNo, doc, u)
					e.sendChunks(a.ApplyNo, bn, "1", enc, u)
					chunks, err := e.svc.chunks(e.ctx, a.ApplyNo, bn, 1)
					if err != nil || len(chunks) != len(enc.chunks) || len(chunks) < 3 {
						t.Fatalf("%d chunks recorded of %d, %v", len(chunks), len(enc.chunks), err)
					}
					for i, c := range chunks {
						data, _ := gm.DecodeBase64(enc.chunks[i])
						want, _ := gm.FileDigest(bytes.NewReader(data), gm.SM3)
						digest, err := e.svc.chunkDigest(e.ctx, a.ApplyNo, bn, 1, c.index)
						if err != nil || digest != want || c.blob != chunkBlobKey(a.ApplyNo, bn, 1, c.index, want) {
							t.Fatalf("chunk %d: digest %s, blob %s, %v; want sm3 %s", c.index, digest, c.blob, err, want)
						}
						if got := readBlob(t, e, c.blob); !bytes.Equal(got, data) || c.size != int64(len(data)) {
							t.Fatalf("chunk %d: blob of %d bytes (recorded %d), want the %d uploaded", c.index, len(got), c.size, len(data))
						}
						wantBlobRow(t, e, blobs, c.blob, want, len(data))
					}
					wantOK(t, "complete", e.complete(a.ApplyNo, bn, "1", enc, u))
					g, err := e.svc.Guarantee(e.ctx, a.ApplyNo, 1)
					if err != nil {
						t.Fatal(err)
					}
					wantDigest, wantAlg := sm3OfDoc, "sm3"
					if u.md5 {
						wantDigest, wantAlg = md5OfDoc, "md5"
					}
					if g.Digest != wantDigest || g.DigestAlg != wantAlg || g.SM3 != sm3OfDoc || g.Size != int64(len(doc)) {
						t.Fatalf("guarantee: digest %s %s, sm3 %s, %d bytes; want %s %s, sm3 %s, %d bytes",
							g.DigestAlg, g.Digest, g.SM3, g.Size, wantAlg, wantDigest, sm3OfDoc, len(doc))
					}
					if got := readBlob(t, e, g.blob); !bytes.Equal(got, doc) {
						t.Fatalf("guarantee blob: %d bytes, not the OFD", len(got))
					}
					wantBlobRow(t, e, blobs, g.blob, sm3OfDoc, len(doc))
				}
			})
		}
	})
}

func readBlob(t *testing.T, e *env, key string) []byte {
	t.Helper()
	rc, err := e.svc.blobs.Open(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantBlobRow checks the blobs table's size and digest of key when the
// blobs are in the database.
func wantBlobRow(t *testing.T, e *env, blobs, key, sm3hex string, size int) {
	t.Helper()
	if blobs != "db" {
		return
	}
	var (
		n int64
		d string
	)
	if err := e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind(`SELECT size, sm3 FROM blobs WHERE blob_key = ?`), key).Scan(&n, &d); err != nil {
		t.Fatalf("blob %s: %v", key, err)
	}
	if n != int64(size) || d != sm3hex {
		t.Fatalf("blobs row of %s: %d bytes, sm3 %s; want %d, %s", key, n, d, size, sm3hex)
	}
}

// The body limit of uploadbaohanfile follows from the largest
// max_chunk_size: 4/3 of it for a base64 institution, twice for a hex
// one, plus 64 KiB for the rest of the request.
func TestUploadBodyLimitFromMaxChunkSize(t *testing.T) {
	for _, tt := range []struct {
		enc  string
		want int64
	}{{"base64", (1<<20)*4/3 + 64<<10}, {"hex", 2<<20 + 64<<10}} {
		e := newEnv(t, "", func(c *Config) {
			for i := range c.Institutions {
				c.Institutions[i].MaxChunkSize, c.Institutions[i].Encoding = 1<<20, tt.enc
			}
		})
		if got := e.svc.core.Server.BodyLimit(protocol.UploadBaohanFile); got != tt.want {
			t.Errorf("%s: body limit %d, want %d", tt.enc, got, tt.want)
		}
	}
}
