package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// Scenario 2: guarantees arriving before the bid deadline. The
// institution uploads each encrypted guarantee in 512 KiB chunks
// (uploadbaohanfile) and completes it (baohanfilecompletenotice: the
// platform assembles, decrypts, checks the digest and the seals). The
// ceiling is SM4-CBC decryption plus SM3 of the same bytes in memory; the
// target is set against the protocol floor (UploadFloor: the receiving
// side's protocol work in memory), measured in the same run.

// Targets of scenario 2.
const (
	// S2MinFloorRatio: each row reaches at least this share of the
	// protocol floor, on either database.
	S2MinFloorRatio = 0.7
	// S2FlatFactor: memory is flat when the heap growth of the largest
	// file exceeds the smallest's by less than this share of the
	// difference of their sizes.
	S2FlatFactor = 0.25
)

// encFile is an encrypted guarantee ready to upload.
type encFile struct {
	applyNo, baohanNo string
	path              string // ciphertext
	size              int64  // ciphertext bytes
	plain             int64  // plaintext bytes
	key, iv           string // SM2-wrapped, base64
	digest            string // SM3 of the plaintext
	// bodies are the signed request bodies, made in setup as the
	// bodies of scenarios 1 and 4 are: one file per uploadbaohanfile
	// chunk, in order, then the baohanfilecompletenotice.
	bodies   []string
	complete string
}

func (r *runner) scenario2(ctx context.Context, db string) ([]Row, error) {
	o := r.o
	label := "s2-" + db
	r.logf("%s: starting the platform", label)
	env, err := StartPlatform(ctx, PlatformOptions{Dir: r.workDir(label), DB: db, PostgresURL: o.PostgresURL, Institutions: 1})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	sec, err := env.Section(ctx, "S2-"+randomHex(3), env.Clock.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	p := NewPoster(o.Uploaders)
	defer p.Close()

	var rows []Row
	for si, size := range o.Sizes {
		part := fmt.Sprintf("%s-%s", label, sizeName(size))
		files := o.Files
		if files <= 0 {
			files = min(max(int(64<<20/size), 4), 64)
			if o.Quick {
				files = 4
			}
		}
		row := Row{Scenario: 2, Name: fmt.Sprintf("upload+complete %s guarantees, %d at once", sizeName(size), o.Uploaders), DB: db, Unit: "MiB/s"}
		r.logf("%s: preparing %d sealed OFD guarantees of %s, encrypted for their applynos", part, files, sizeName(size))
		encs, key, iv, err := r.prepareFiles(ctx, env, sec, si, size, files, filepath.Join(r.workDir(label), "files-"+sizeName(size)))
		if err != nil {
			return rows, err
		}

		// The ceiling: the same ciphertext decrypted and hashed in memory.
		ct, err := os.ReadFile(encs[0].path)
		if err != nil {
			return rows, err
		}
		minDur := time.Second
		if o.Quick {
			minDur = 300 * time.Millisecond
		}
		cr, err := CryptoCeiling(ctx, ct, key, iv, o.Uploaders, minDur)
		if err != nil {
			return rows, err
		}
		ct = nil
		ceil := cr.BytesPerSec() / (1 << 20)
		r.logf("%s: ceiling SM4-CBC decrypt + SM3 in memory: %.1f MiB/s with %d workers", part, ceil, cr.Workers)
		floor, err := r.uploadFloor(ctx, env, encs[0], key, iv, minDur)
		if err != nil {
			return rows, err
		}
		r.logf("%s: protocol floor in memory: %.1f MiB/s", part, floor)
		runtime.GC()

		var st *Stats
		mem := StartMemSampler(0)
		err = r.timed(part, func() error {
			var err error
			st, err = Load{Clients: o.Uploaders, Count: files, Progress: r.progress(part, files)}.Run(ctx,
				func(ctx context.Context, _, i int) error { return r.uploadFile(ctx, env, p, encs[i]) })
			return err
		})
		peak := mem.Stop()
		if err != nil {
			return rows, err
		}
		r.logf("%s: %s", part, st)
		row.setStats(st)
		row.Rate = float64(int64(st.OK())*size) / (1 << 20) / st.Elapsed.Seconds()
		row.setMem(peak)
		row.setCeiling("SM4-CBC+SM3 in memory", ceil)
		row.setUploadFloor(floor)
		got, err := env.CountState(ctx, sec.No, platform.CipherReceived)
		if err != nil {
			return rows, err
		}
		want := 0
		for _, prev := range rows {
			want += prev.N - prev.Errors
		}
		want += st.OK()
		row.check("every completed guarantee accepted (cipher_received)", got == want, "%d of %d", got, want)
		row.note("per file: %d chunks of %s; latency is upload of every chunk plus the complete notice",
			chunk.Count(encs[0].size, chunk.DefaultSize), sizeName(chunk.DefaultSize))
		row.Target = fmt.Sprintf("≥%.0f%% of protocol floor", S2MinFloorRatio*100)
		row.Pass = floor > 0 && row.Rate >= S2MinFloorRatio*floor && st.Errors == 0
		for _, e := range encs {
			os.Remove(e.path)
			for _, b := range append(e.bodies, e.complete) {
				os.Remove(b)
			}
		}
		rows = append(rows, row)
	}
	// Flat memory: compare the largest and the smallest size, on the
	// live heap (what the work really holds; the heap in use adds the
	// garbage the GC pacer lets build up between collections, which
	// moves by a few MiB from run to run whatever the file size).
	if len(rows) >= 2 {
		small, large := &rows[0], &rows[len(rows)-1]
		ds := float64(o.Sizes[len(o.Sizes)-1] - o.Sizes[0])
		dl := float64(large.LiveGrowth) - float64(small.LiveGrowth)
		flat := dl < S2FlatFactor*ds
		verdict := "flat"
		if !flat {
			verdict = "NOT flat"
		}
		large.note("peak memory %s as the file grows: live heap growth %s for %s vs %s for %s (flat: less than +%.0f%% of the size difference); heap in use growth %s vs %s",
			verdict, fmtBytes(large.LiveGrowth), sizeName(o.Sizes[len(o.Sizes)-1]), fmtBytes(small.LiveGrowth), sizeName(o.Sizes[0]), S2FlatFactor*100,
			fmtBytes(large.HeapGrowth), fmtBytes(small.HeapGrowth))
		large.Target += ", heap flat"
		large.Pass = large.Pass && flat
	}
	for i := range rows {
		rows[i].Pass = rows[i].Pass && rows[i].checksOK()
	}
	return rows, nil
}

func sizeName(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// prepareFiles seeds files approved applications and, for each, makes a
// sealed OFD guarantee of size bytes naming it, fetches its public key
// (downloadpublickey) and writes the OFD encrypted under a fresh key and
// iv to dir. It returns the files and the raw key and iv of the first
// (for the ceiling).
func (r *runner) prepareFiles(ctx context.Context, env *PlatformEnv, sec *platform.Section, si int, size int64, files int, dir string) (
	out []*encFile, key0, iv0 []byte, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, err
	}
	now := env.Clock.Now()
	apps := make([]SeedApp, files)
	for i := range apps {
		apps[i] = SeedApp{ApplyNo: platform.NewApplyNo(now), State: platform.Approved, BaohanNo: fmt.Sprintf("BHF%d-%d-%s", si, i, randomHex(3))}
	}
	if err := env.Seed(ctx, sec, apps, false); err != nil {
		return nil, nil, nil, err
	}
	p := NewPoster(1)
	defer p.Close()
	out = make([]*encFile, files)
	for i, a := range apps {
		resp, err := p.Post(ctx, env.URL(protocol.DownloadPublicKey), env.Body(0, map[string]string{"applyno": a.ApplyNo}))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("downloadpublickey: %w", err)
		}
		var pk protocol.PublicKeyResult
		if err := json.Unmarshal(resp.Data, &pk); err != nil {
			return nil, nil, nil, err
		}
		pub, err := gm.ParsePublicKey([]byte(pk.PublicKey))
		if err != nil {
			return nil, nil, nil, err
		}
		// Each guarantee names its application (the platform refuses
		// another's).
		doc, err := env.PKI.GuaranteeOFD(a.ApplyNo, a.BaohanNo, int(size))
		if err != nil {
			return nil, nil, nil, err
		}
		digest, err := gm.FileDigest(bytes.NewReader(doc), gm.SM3)
		if err != nil {
			return nil, nil, nil, err
		}
		key, iv := gm.NewKey(), gm.NewKey()
		e := &encFile{applyNo: a.ApplyNo, baohanNo: a.BaohanNo, path: filepath.Join(dir, a.ApplyNo+".enc"), plain: int64(len(doc)), digest: digest}
		f, err := os.Create(e.path)
		if err != nil {
			return nil, nil, nil, err
		}
		w, err := gm.NewCBCEncryptWriter(f, key, iv)
		if err == nil {
			_, err = w.Write(doc)
		}
		if err == nil {
			err = w.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, nil, err
		}
		fi, err := os.Stat(e.path)
		if err != nil {
			return nil, nil, nil, err
		}
		e.size = fi.Size()
		if e.key, err = gm.WrapKey(pub, key, gm.C1C3C2); err != nil {
			return nil, nil, nil, err
		}
		if e.iv, err = gm.WrapKey(pub, iv, gm.C1C3C2); err != nil {
			return nil, nil, nil, err
		}
		if err := e.writeBodies(env, dir); err != nil {
			return nil, nil, nil, err
		}
		if i == 0 {
			key0, iv0 = key, iv
		}
		out[i] = e
	}
	return out, key0, iv0, nil
}

// writeBodies writes the signed bodies of e's upload to dir: each
// 512 KiB chunk of the ciphertext as an uploadbaohanfile (1-based
// indexes), then the baohanfilecompletenotice.
func (e *encFile) writeBodies(env *PlatformEnv, dir string) error {
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, chunk.DefaultSize)
	write := func(name string, body []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o600); err != nil {
			return err
		}
		if name == e.applyNo+".complete.json" {
			e.complete = p
		} else {
			e.bodies = append(e.bodies, p)
		}
		return nil
	}
	for idx := 1; ; idx++ {
		k, err := io.ReadFull(f, buf)
		if k > 0 {
			body := env.Body(0, map[string]string{"applyno": e.applyNo, "baohanno": e.baohanNo, "filetype": protocol.FileTypeCipher,
				"index": strconv.Itoa(idx), "baohanfile": base64.StdEncoding.EncodeToString(buf[:k])})
			if err := write(fmt.Sprintf("%s.%04d.json", e.applyNo, idx), body); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	body := env.Body(0, map[string]string{"applyno": e.applyNo, "baohanno": e.baohanNo, "filetype": protocol.FileTypeCipher,
		"key": e.key, "iv": e.iv, "baohanfilemd5": e.digest, "bak1": strconv.Itoa(len(e.bodies))})
	return write(e.applyNo+".complete.json", body)
}

// uploadFile sends one encrypted guarantee as the institution's outbox
// does: its chunks one after the other, then the complete notice. The
// bodies were signed in setup; it holds one at a time.
func (r *runner) uploadFile(ctx context.Context, env *PlatformEnv, p *Poster, e *encFile) error {
	var buf []byte
	post := func(path string, i protocol.Interface) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if int64(cap(buf)) < fi.Size() {
			buf = make([]byte, fi.Size())
		}
		buf = buf[:fi.Size()]
		if _, err := io.ReadFull(f, buf); err != nil {
			return err
		}
		_, err = p.Post(ctx, env.URL(i), buf)
		return err
	}
	for idx, b := range e.bodies {
		if err := post(b, protocol.UploadBaohanFile); err != nil {
			return fmt.Errorf("uploadbaohanfile index %d: %w", idx+1, err)
		}
	}
	if err := post(e.complete, protocol.BaohanFileCompleteNotice); err != nil {
		return fmt.Errorf("baohanfilecompletenotice: %w", err)
	}
	return nil
}

// uploadFloor measures UploadFloor on e's chunk bodies (read back from
// disk) with the scenario's uploaders as workers, in MiB/s.
func (r *runner) uploadFloor(ctx context.Context, env *PlatformEnv, e *encFile, key, iv []byte, minDur time.Duration) (float64, error) {
	bodies := make([][]byte, len(e.bodies))
	for i, p := range e.bodies {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		bodies[i] = b
	}
	res, err := UploadFloor(ctx, bodies, env.Peers[0].AppSecret, key, iv, env.PKI.CA.Pool(), r.o.Uploaders, minDur)
	if err != nil {
		return 0, err
	}
	return res.BytesPerSec() / (1 << 20), nil
}
