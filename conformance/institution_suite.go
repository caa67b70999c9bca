package conformance

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
)

// iapp is one application the kit (playing the platform) sent to the
// institution under test.
type iapp struct {
	role     string
	applyNo  string
	fields   map[string]string // the baohanapply fields, unsigned
	envKey   []byte
	redirect string

	baohanNo string
	status   string // applystatus of the accepted baohannotice
	ended    string
	restored bool
	keyPriv  *sm2.PrivateKey // the downloadpublickey key pair of this applyno
	claimed  bool            // the institution accepted the kit's claimsnotice
	paid     bool            // claimsresultnotice reported the claim paid

	files       map[string]*recvFile // by filetype
	completions []*completion
}

// recvFile gathers the chunks of one guarantee file.
type recvFile struct {
	chunks  map[int][]byte
	arrival []int // indexes in the order they arrived
}

// completion is what the kit found when a baohanfilecompletenotice came.
type completion struct {
	in       *Inbound
	filetype string
	indexes  []int
	// The first problem of each stage, "" when the stage passed.
	indexErr, keyErr, digestErr string
	file                        []byte
	alg                         gm.DigestAlg
}

func (c *completion) problem() string {
	for _, p := range []string{c.indexErr, c.keyErr, c.digestErr} {
		if p != "" {
			return p
		}
	}
	return ""
}

// project is the section the kit's applications bid on: its fields are
// encrypted with key until the bid opening.
type project struct {
	key                                      []byte
	BiaoduanNo, BiaoduanName, Zbr, ZbrOrgNum string
}

// institutionRun is the state of one institution suite run.
type institutionRun struct {
	cfg    *Config
	d      InstitutionDriver
	ib     *inbox
	w      *wire
	bidder *Bidder
	proj   project
	// verify checks a guarantee file's seals; see VerifyGuarantee.
	verify GuaranteeVerifier

	mu    sync.Mutex
	apps  map[string]*iapp
	roles map[string]*iapp
	seq   int
}

// GuaranteeVerifier checks a received guarantee file (an OFD): its seals
// verify, chained to roots when roots is not empty. It returns a one-line
// summary and the document's text (for the confidentiality checks).
type GuaranteeVerifier func(file []byte, roots []*smx509.Certificate) (summary, text string, err error)

// NewInstitutionSuite returns the suite that tests an institution: the kit
// plays the platform. bidder is the bidder the applications are made for
// (nil: one is made with a throwaway test CA); verify checks the
// guarantee files (nil: DefaultVerifier).
func NewInstitutionSuite(cfg Config, d InstitutionDriver, bidder *Bidder, verify GuaranteeVerifier) (*Suite, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if bidder == nil {
		var err error
		if bidder, err = NewTestBidder("一致性测试投标人有限公司"); err != nil {
			return nil, err
		}
	}
	if d == nil {
		d = ManualInstitution{Out: cfg.Out}
	}
	if verify == nil {
		verify = DefaultVerifier
	}
	c := &cfg
	ir := &institutionRun{cfg: c, d: d, ib: newInbox(c), w: &wire{cfg: c}, bidder: bidder, verify: verify,
		apps: map[string]*iapp{}, roles: map[string]*iapp{}}
	tag := randomDigits(6)
	ir.proj = project{key: gm.NewKey(),
		BiaoduanNo: "CONF-BD-" + tag, BiaoduanName: "一致性测试标段" + tag + "（施工）",
		Zbr: "一致性测试招标人" + tag, ZbrOrgNum: pki.GenerateCreditCode()}
	for _, i := range protocol.ServedBySide(protocol.Platform) {
		ir.ib.handle(i, ir.respond)
	}
	// The optional ones only when enabled: a call of another one is a
	// call of an interface the peer did not enable, refused and reported.
	for _, i := range c.Extensions {
		ir.ib.handle(i, ir.respond)
	}
	return &Suite{side: protocol.Institution, cfg: c, inbox: ir.ib, wire: ir.w, checks: ir.checks()}, nil
}

// NewTestBidder makes a bidder with a certificate from a throwaway test CA.
func NewTestBidder(name string) (*Bidder, error) {
	ca, err := pki.New("一致性测试CA")
	if err != nil {
		return nil, err
	}
	id, err := ca.Issue(name, pki.Bidder)
	if err != nil {
		return nil, err
	}
	return BidderFromIdentity(id), nil
}

// checkContents checks a received guarantee file with guarantee.Check:
// it names a, its seals cover every entry, and it carries the agreement
// signed by the kit's bidder (its certificate, or one naming its credit
// code). Chains are left to guarantee.sealed: the bidder's CA is the
// kit's, not among the implementation's trust roots.
func (ir *institutionRun) checkContents(file []byte, a *iapp, fileType int, cipherSM3 string) (*guarantee.Verdict, error) {
	pkg, err := ofd.Open(file)
	if err != nil {
		return nil, fmt.Errorf("not an OFD package: %v", err)
	}
	b := ir.bidder
	return guarantee.Check(pkg, guarantee.Expectation{ApplyNo: a.applyNo, BaohanNo: a.baohanNo, FileType: fileType, CipherSM3: cipherSM3,
		Bidder: func(c *smx509.Certificate) error {
			if c.Equal(b.Cert) {
				return nil
			}
			if code, err := pki.CreditCode(c, pki.InSerialNumber); err == nil && b.CreditCode != "" && code == b.CreditCode {
				return nil
			}
			return fmt.Errorf("the kit's bidder is %q (credit code %s)", b.Name, b.CreditCode)
		}})
}

// BidderFromIdentity makes a Bidder of a test CA identity.
func BidderFromIdentity(id *pki.Identity) *Bidder {
	return &Bidder{Name: id.Name, CreditCode: id.CreditCode, Key: id.Key, Cert: id.Cert, CertPEM: id.CertPEM, KeyPEM: id.KeyPEM}
}

// newApplication makes the fields of a baohanapply for a new application.
func (ir *institutionRun) newApplication(role string) (*iapp, error) {
	ir.mu.Lock()
	ir.seq++
	n := ir.seq
	ir.mu.Unlock()
	enc := func(s string) (string, error) { return gm.EncryptField(ir.proj.key, s) }
	data := map[string]string{"biddername": ir.bidder.Name, "biddercode": ir.bidder.CreditCode, "bzjamount": kitBond}
	for name, v := range map[string]string{"biaoduanno": ir.proj.BiaoduanNo, "biaoduanname": ir.proj.BiaoduanName, "zbr": ir.proj.Zbr, "zbrorgnum": ir.proj.ZbrOrgNum} {
		c, err := enc(v)
		if err != nil {
			return nil, err
		}
		data[name] = c
	}
	a := &iapp{role: role, files: map[string]*recvFile{},
		applyNo: fmt.Sprintf("CONF%s%02d%s", ir.cfg.Now().In(protocol.CST).Format("20060102150405"), n, randomDigits(4))}
	if ir.cfg.Profile.Revision.Flat() {
		// EXTENSIONS.md §2: the fields at the top level, the secret ones
		// under the project key too; no envelope, no platformcode.
		for name, v := range map[string]string{"bzjenddate": protocol.FormatTime(ir.cfg.Now().Add(time.Hour)),
			"insuredcontactname": "招标人联系人", "insuredcontactphone": "0571-88880000", "insuredaddress": "某市某区某路1号"} {
			c, err := enc(v)
			if err != nil {
				return nil, err
			}
			data[name] = c
		}
		data["biddercontactname"], data["biddercontactphone"] = "投标人联系人", "13800000000"
		data["applyno"] = a.applyNo
		a.fields = data
	} else {
		applydata, env, err := gm.SealEnvelopeAs(ir.bidder.Public(), protocol.MarshalFields(data), ir.cfg.Profile.SM2Layout, ir.cfg.Profile.Encoding)
		if err != nil {
			return nil, err
		}
		if a.envKey, err = gm.UnwrapKey(ir.bidder.Key, env, ir.cfg.Profile.SM2Layout); err != nil {
			return nil, err
		}
		a.fields = map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo, "applydata": applydata, "digitalenvelope": env}
	}
	ir.mu.Lock()
	ir.apps[a.applyNo] = a
	if role != "" {
		ir.roles[role] = a
	}
	ir.mu.Unlock()
	return a, nil
}

func (ir *institutionRun) platformCode() string {
	if ir.cfg.PlatformCode != "" {
		return ir.cfg.PlatformCode
	}
	return "CONFORMANCE"
}

// respond answers the institution's calls as a conforming platform would.
func (ir *institutionRun) respond(ctx context.Context, in *Inbound) protocol.Response {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	var a *iapp
	if in.Interface == protocol.InvoiceNotice {
		for _, x := range ir.apps {
			if x.baohanNo != "" && x.baohanNo == in.Get("baohanno") {
				a = x
			}
		}
		if a == nil {
			return protocol.Fail("unknown baohanno %q", in.Get("baohanno"))
		}
	} else {
		a = ir.apps[in.Get("applyno")]
		if a == nil {
			return protocol.Fail("unknown applyno %q: the kit never sent it", in.Get("applyno"))
		}
	}
	if bn := in.Get("baohanno"); bn != "" && in.Interface != protocol.BaohanNotice && bn != a.baohanNo {
		return protocol.Fail("baohanno %q does not match applyno %s (baohannotice gave %q)", bn, a.applyNo, a.baohanNo)
	}
	switch in.Interface {
	case protocol.BaohanNotice:
		if a.ended != "" {
			return protocol.Fail("applyno %s is %s", a.applyNo, a.ended)
		}
		if a.status == protocol.StatusApproved && in.Get("baohanno") != a.baohanNo {
			return protocol.Fail("applyno %s was already approved with baohanno %q", a.applyNo, a.baohanNo)
		}
		a.status, a.baohanNo = in.Get("applystatus"), in.Get("baohanno")
		return protocol.OK(nil)
	case protocol.DownloadPublicKey:
		if a.keyPriv == nil {
			k, err := gm.GenerateKey()
			if err != nil {
				return protocol.Fail("the kit could not make a key: %v", err)
			}
			a.keyPriv = k
		}
		return protocol.OK(protocol.PublicKeyResult{PublicKey: gm.PublicKeyHex(&a.keyPriv.PublicKey)})
	case protocol.GiveupNotice:
		if a.status == protocol.StatusApproved {
			return protocol.Fail("applyno %s has a success notice: it cannot be given up", a.applyNo)
		}
		if a.ended != "" && a.ended != "given up" {
			return protocol.Fail("applyno %s is %s", a.applyNo, a.ended)
		}
		a.ended = "given up"
		return protocol.OK(nil)
	}
	// The rest needs an approved guarantee.
	if a.status != protocol.StatusApproved {
		return protocol.Fail("applyno %s has no approved guarantee", a.applyNo)
	}
	switch in.Interface {
	case protocol.UploadBaohanFile:
		ft := in.Get("filetype")
		if ft == protocol.FileTypePlain && !a.restored {
			return protocol.Fail("a plaintext guarantee (filetype 2) before baohanrestore")
		}
		idx, _ := strconv.Atoi(in.Get("index"))
		data, err := ir.cfg.Profile.decode(in.Get("baohanfile"))
		if err != nil {
			return protocol.Fail("baohanfile: %v", err)
		}
		if len(data) > ir.cfg.Profile.maxChunk() {
			return protocol.Fail("baohanfile (index %d) is %d bytes, more than the max_chunk_size of %d", idx, len(data), ir.cfg.Profile.maxChunk())
		}
		f := a.files[ft]
		if f == nil {
			f = &recvFile{chunks: map[int][]byte{}}
			a.files[ft] = f
		}
		if old, dup := f.chunks[idx]; dup && !bytes.Equal(old, data) {
			return protocol.Fail("chunk %d of filetype %s was already received with different bytes", idx, ft)
		}
		f.chunks[idx] = data
		f.arrival = append(f.arrival, idx)
		return protocol.OK(nil)
	case protocol.BaohanFileCompleteNotice:
		ft := in.Get("filetype")
		if ft == protocol.FileTypePlain && !a.restored {
			return protocol.Fail("a plaintext guarantee (filetype 2) before baohanrestore")
		}
		c := ir.complete(a, in)
		a.completions = append(a.completions, c)
		if p := c.problem(); p != "" {
			return protocol.Fail("%s", p)
		}
		return protocol.OK(nil)
	case protocol.QuitNotice:
		if in.Get("applystatus") == protocol.StatusApproved {
			a.ended = "withdrawn"
		}
		return protocol.OK(nil)
	case protocol.InvoiceNotice:
		return protocol.OK(nil)
	case protocol.ClaimsResultNotice, protocol.ClaimsRepayNotice:
		return ir.claimOutcome(a, in)
	}
	return protocol.Fail("the kit does not serve %s", in.Interface)
}

// kitBond is the guaranteed amount (bzjamount) of the kit's applications.
const kitBond = "20000.00"

// claimOutcome answers claimsresultnotice and claimsrepaynotice as a
// conforming platform: after the kit's claim, the amount never above the
// guarantee (the kit's bzjamount), a recovery only after a payment.
// Called with ir.mu held.
func (ir *institutionRun) claimOutcome(a *iapp, in *Inbound) protocol.Response {
	if !a.claimed {
		return protocol.Fail("applyno %s: the kit made no claim (claimsnotice) on it", a.applyNo)
	}
	field := "compensateamount"
	if in.Interface == protocol.ClaimsRepayNotice {
		field = "repayamount"
		if !a.paid {
			return protocol.Fail("applyno %s: a recovery before the claim was reported paid (claimsresultnotice compensatestatus 2)", a.applyNo)
		}
	}
	amount, err := decimal.NewFromString(in.Get(field))
	if err != nil {
		return protocol.Fail("%s %q is not an amount", field, in.Get(field))
	}
	if bond := decimal.RequireFromString(kitBond); amount.GreaterThan(bond) {
		msg := fmt.Sprintf("%s %s exceeds the guaranteed amount %s", field, in.Get(field), kitBond)
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	}
	if in.Interface == protocol.ClaimsResultNotice && in.Get("compensatestatus") == protocol.CompensatePaid {
		a.paid = true
	}
	return protocol.OK(nil)
}

// complete assembles, decrypts and checks a file on its completion
// notice. Called with ir.mu held.
func (ir *institutionRun) complete(a *iapp, in *Inbound) *completion {
	c := &completion{in: in, filetype: in.Get("filetype")}
	f := a.files[c.filetype]
	if f == nil || len(f.chunks) == 0 {
		c.indexErr = "no chunk of filetype " + c.filetype + " was received"
		return c
	}
	for k := range f.chunks {
		c.indexes = append(c.indexes, k)
	}
	sort.Ints(c.indexes)
	if base := c.indexes[0]; base != 0 && base != 1 {
		c.indexErr = fmt.Sprintf("chunk indexes start at %d, expected 1 (or 0)", base)
	} else {
		var gaps []string
		for k := 1; k < len(c.indexes); k++ {
			for g := c.indexes[k-1] + 1; g < c.indexes[k]; g++ {
				gaps = append(gaps, strconv.Itoa(g))
			}
		}
		if len(gaps) > 0 {
			c.indexErr = fmt.Sprintf("chunk indexes %s are missing (received %s)", strings.Join(gaps, ", "), intsString(c.indexes))
		}
	}
	if n := in.Get("bak1"); c.indexErr == "" && n != "" {
		if cnt, err := strconv.Atoi(n); err == nil && cnt != len(c.indexes) {
			c.indexErr = fmt.Sprintf("bak1 says %d chunks, %d were received", cnt, len(c.indexes))
		}
	}
	if c.indexErr != "" {
		return c
	}
	if a.keyPriv == nil {
		c.keyErr = "no downloadpublickey for this applyno before the completion notice: the key cannot have been wrapped for the platform"
		return c
	}
	key, err := gm.UnwrapKey(a.keyPriv, in.Get("key"), ir.cfg.Profile.SM2Layout)
	if err != nil || len(key) != 16 {
		c.keyErr = fmt.Sprintf("key: %v (it must be the 16-byte SM4 key, SM2 %s encrypted for the downloadpublickey key)", errOr(err, fmt.Sprintf("%d bytes", len(key))), ir.cfg.Profile.SM2Layout)
		return c
	}
	iv, err := gm.UnwrapKey(a.keyPriv, in.Get("iv"), ir.cfg.Profile.SM2Layout)
	if err != nil || len(iv) != 16 {
		c.keyErr = fmt.Sprintf("iv: %v (it must be the 16-byte iv, SM2 %s encrypted for the downloadpublickey key)", errOr(err, fmt.Sprintf("%d bytes", len(iv))), ir.cfg.Profile.SM2Layout)
		return c
	}
	var ct bytes.Buffer
	for _, k := range c.indexes {
		ct.Write(f.chunks[k])
	}
	uploaded := bytes.Clone(ct.Bytes())
	r, err := gm.NewCBCDecryptReader(&ct, key, iv)
	if err == nil {
		c.file, err = io.ReadAll(r)
	}
	if err != nil {
		c.keyErr = fmt.Sprintf("the file does not decrypt with key and iv (SM4-CBC, PKCS#7): %v", err)
		return c
	}
	want := in.Get("baohanfilemd5")
	alg, err := gm.DigestAlgOf(want)
	if err != nil {
		c.digestErr = fmt.Sprintf("baohanfilemd5 %q: %v", clipText(want, 70), err)
		return c
	}
	c.alg = alg
	over := ir.cfg.Profile.DigestOver
	got, _ := gm.FileDigest(bytes.NewReader(c.file), alg)
	gotCipher, _ := gm.FileDigest(bytes.NewReader(uploaded), alg)
	switch {
	case over == gm.OverPlaintext && !strings.EqualFold(got, want):
		c.digestErr = fmt.Sprintf("baohanfilemd5 %s does not match the decrypted file's %s %s", want, alg, got)
	case over == gm.OverCiphertext && !strings.EqualFold(gotCipher, want):
		c.digestErr = fmt.Sprintf("baohanfilemd5 %s does not match the %s %s of the uploaded bytes (file_digest %s)", want, alg, gotCipher, gm.FileDigestName(alg, over))
	case over == gm.OverEither && !strings.EqualFold(got, want) && !strings.EqualFold(gotCipher, want):
		c.digestErr = fmt.Sprintf("baohanfilemd5 %s matches neither the decrypted file's %s %s nor the uploaded bytes' %s", want, alg, got, gotCipher)
	}
	return c
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func intsString(v []int) string {
	parts := make([]string, len(v))
	for k, x := range v {
		parts[k] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func (ir *institutionRun) app(role string) *iapp {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	return ir.roles[role]
}

func (ir *institutionRun) need(t *T, role string) *iapp {
	a := ir.app(role)
	if a == nil {
		t.Skip("application %s was not made", role)
	}
	return a
}

// apply sends a's baohanapply (signed now) and fails the check unless
// accepted with a redirecturl.
func (ir *institutionRun) apply(ctx context.Context, t *T, a *iapp) {
	rep := t.call(ctx, protocol.BaohanApply, a.fields)
	t.mustAccept(rep, "baohanapply "+a.applyNo)
	var res protocol.ApplyResult
	if err := json.Unmarshal(rep.Resp.Data, &res); err != nil || res.RedirectURL == "" {
		t.Fail("baohanapply %s: data has no redirecturl: %s", a.applyNo, clipText(string(rep.Resp.Data), 200))
	}
	ir.mu.Lock()
	a.redirect = res.RedirectURL
	ir.mu.Unlock()
}

// newApplied makes application role and sends it.
func (ir *institutionRun) newApplied(ctx context.Context, t *T, role string) *iapp {
	a, err := ir.newApplication(role)
	if err != nil {
		t.Fail("the kit could not make an application: %v", err)
	}
	ir.apply(ctx, t, a)
	return a
}

// waitFor waits for the institution's call of interface i about a that
// satisfies match, and fails the check when none comes or the kit refused
// it for a problem of the call itself.
func (ir *institutionRun) waitFor(ctx context.Context, t *T, i protocol.Interface, a *iapp, match func(*Inbound) bool) *Inbound {
	in, err := ir.ib.wait(ctx, ir.cfg.Wait, i, func(in *Inbound) bool {
		if i == protocol.InvoiceNotice {
			if in.Get("baohanno") != a.baohanNo {
				return false
			}
		} else if in.Get("applyno") != a.applyNo {
			return false
		}
		return match == nil || match(in)
	})
	if err != nil {
		t.Fail("no %s for %s: %v", i, a.applyNo, err)
	}
	t.Observe(in.Exchange)
	if len(in.Problems) > 0 {
		t.Fail("%s for %s was refused by the kit: %s", i, a.applyNo, strings.Join(in.Problems, "; "))
	}
	return in
}

func (ir *institutionRun) task(a *iapp) *BidderTask {
	return &BidderTask{ApplyNo: a.applyNo, RedirectURL: a.redirect, Envelope: a.fields["digitalenvelope"], EnvelopeKey: a.envKey, Bidder: ir.bidder}
}

// underwrite has a approved: the driver runs the bidder's flow, then the
// kit waits for an approving baohannotice.
func (ir *institutionRun) underwrite(ctx context.Context, t *T, a *iapp) *Inbound {
	drive(t, "take the bidder through the institution's flow", ir.d.Underwrite(ctx, ir.task(a)))
	in := ir.waitFor(ctx, t, protocol.BaohanNotice, a, nil)
	if in.Answer.Code != protocol.CodeOK {
		t.Fail("baohannotice for %s: the kit refused it: %s", a.applyNo, in.Answer.Message)
	}
	if in.Get("applystatus") != protocol.StatusApproved {
		t.Fail("baohannotice for %s has applystatus %q: the application was not approved", a.applyNo, in.Get("applystatus"))
	}
	return in
}

// waitCompletion waits for the completion notice of a's file of filetype
// and returns what the kit found.
func (ir *institutionRun) waitCompletion(ctx context.Context, t *T, a *iapp, filetype string) *completion {
	in := ir.waitFor(ctx, t, protocol.BaohanFileCompleteNotice, a, func(in *Inbound) bool { return in.Get("filetype") == filetype })
	time.Sleep(ir.cfg.Settle) // let the institution record the answer
	ir.mu.Lock()
	defer ir.mu.Unlock()
	for _, c := range a.completions {
		if c.in == in {
			return c
		}
	}
	t.Fail("the completion notice was refused before the kit looked at the file: %s", in.Answer.Message)
	return nil
}

// issued brings a (already applied) through underwriting and the
// ciphertext guarantee; a setup step for B and D.
func (ir *institutionRun) issued(ctx context.Context, t *T, a *iapp) {
	ir.underwrite(ctx, t, a)
	c := ir.waitCompletion(ctx, t, a, protocol.FileTypeCipher)
	if p := c.problem(); p != "" {
		t.Fail("setup: the ciphertext guarantee of %s: %s", a.applyNo, p)
	}
}

func (ir *institutionRun) restoreFields(a *iapp, kaibiao time.Time, key []byte) map[string]string {
	f := map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo, "baohanno": a.baohanNo,
		"kaibiaotime": protocol.FormatTime(kaibiao), "key": ir.cfg.Profile.Encoding.Encode(key)}
	if ir.cfg.Profile.Revision.Flat() {
		delete(f, "platformcode")
		f["bzjenddate"] = protocol.FormatTime(kaibiao)
	}
	return f
}

func (ir *institutionRun) checks() []Check {
	var cs []Check
	add := func(c Check) { cs = append(cs, c) }
	fresh := func(ctx context.Context, t *T) *iapp {
		a, err := ir.newApplication("")
		if err != nil {
			t.Fail("the kit could not make an application: %v", err)
		}
		return a
	}

	// --- the pipeline, on baohanapply with fresh applications
	add(Check{ID: "answers.not-json",
		Title:    "a body that is not a flat JSON object gets a JSON answer with code 0, on every interface",
		Expected: "HTTP 200, {code:0, message, data} for each of 4 bad bodies × 7 interfaces",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			for _, i := range protocol.ServedBySide(protocol.Institution) {
				for _, body := range badBodies {
					rep := t.post(ctx, i, []byte(body))
					if rep.code() != protocol.CodeFail || rep.Ex.HTTPStatus != 200 {
						bad = append(bad, fmt.Sprintf("%s with %q: %s", i, clipText(body, 20), rep.describe()))
					}
				}
			}
			if len(bad) > 0 {
				t.Fail("%d of %d: %s", len(bad), 7*len(badBodies), strings.Join(bad, "; "))
			}
			t.Pass("all %d answered JSON with code 0", 7*len(badBodies))
		}})
	add(Check{ID: "appkey.unknown", Interface: protocol.BaohanApply,
		Title: "a call with an unknown appkey is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["appkey"] = "conformance-unknown-" + randomDigits(6)
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "sign.wrong", Interface: protocol.BaohanApply,
		Title: "a call signed with another appsecret is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := ir.w.sign(fresh(ctx, t).fields)
			f["sign"] = protocol.SignAs(ir.cfg.Profile.Sign, f, ir.cfg.AppSecret+"-wrong")
			t.expectRefused(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.tampered", Interface: protocol.BaohanApply,
		Title: "a field changed after signing is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := fresh(ctx, t)
			f := ir.w.sign(a.fields)
			f["applyno"] = a.applyNo + "X"
			t.expectRefused(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.missing", Interface: protocol.BaohanApply,
		Title: "a call without sign is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := ir.w.sign(fresh(ctx, t).fields)
			delete(f, "sign")
			t.expectRefused(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "timestamp.stale", Interface: protocol.BaohanApply,
		Title: "a timestamp older than the window is refused", Expected: "code 0 for now − (window + 1 min)",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["timestamp"] = protocol.FormatTime(ir.cfg.Now().Add(-ir.cfg.Profile.Window - time.Minute))
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "timestamp.future", Interface: protocol.BaohanApply,
		Title: "a timestamp ahead of the window is refused", Expected: "code 0 for now + (window + 1 min)",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["timestamp"] = protocol.FormatTime(ir.cfg.Now().Add(ir.cfg.Profile.Window + time.Minute))
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "timestamp.format", Interface: protocol.BaohanApply,
		Title: "a timestamp not in yyyy-MM-dd HH:mm:ss is refused", Expected: "code 0 for \"2006/01/02 15:04:05\"",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["timestamp"] = ir.cfg.Now().In(protocol.CST).Format("2006/01/02 15:04:05")
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	required := "digitalenvelope"
	if ir.cfg.Profile.Revision.Flat() {
		required = "biddername"
	}
	add(Check{ID: "field.required/baohanapply", Interface: protocol.BaohanApply,
		Title: "baohanapply without " + required + " is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			delete(f, required)
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "field.maxlength/baohanapply", Interface: protocol.BaohanApply,
		Title: "baohanapply with an applyno longer than 50 characters is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["applyno"] = (f["applyno"] + strings.Repeat("9", 51))[:51]
			t.expectRefused(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "baohanapply", Interface: protocol.BaohanApply,
		Title:    "an application is accepted with a redirecturl for the bidder",
		Expected: "code 1, data.redirecturl an http(s) URL ≤ 500 chars",
		Run: func(ctx context.Context, t *T) {
			a, err := ir.newApplication("A")
			if err != nil {
				t.Fail("the kit could not make an application: %v", err)
			}
			ir.apply(ctx, t, a)
			u, err := url.Parse(a.redirect)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fail("redirecturl %q is not an http(s) URL", clipText(a.redirect, 100))
			}
			if n := len([]rune(a.redirect)); n > protocol.ResultMaxRedirectURL {
				t.Fail("redirecturl is %d characters, the spec allows %d", n, protocol.ResultMaxRedirectURL)
			}
			t.Pass("redirecturl %s", clipText(a.redirect, 80))
		}})
	add(Check{ID: "retry", Interface: protocol.BaohanApply,
		Title: "the same signed body sent again (a retry after a lost answer) is answered as the first", Expected: "code 1 twice, the same answer",
		Run: func(ctx context.Context, t *T) {
			body := protocol.MarshalFields(t.sign(ctx, fresh(ctx, t).fields))
			first := t.post(ctx, protocol.BaohanApply, body)
			t.mustAccept(first, "first sending")
			t.expectSameAnswer(first, t.post(ctx, protocol.BaohanApply, body))
		}})
	add(Check{ID: "replay", Interface: protocol.BaohanApply,
		Title: "another body under a sign already received is refused", Expected: "code 1, then code 0",
		Run: func(ctx context.Context, t *T) {
			f := t.sign(ctx, fresh(ctx, t).fields)
			t.mustAccept(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)), "first sending")
			f["bak3"] = "" // not signed: the same sign over another body
			t.expectRefused(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.uppercase", Interface: protocol.BaohanApply,
		Title: "a sign in uppercase hex is accepted (signs compare case-insensitively)", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			f := t.sign(ctx, fresh(ctx, t).fields)
			f["sign"] = strings.ToUpper(f["sign"])
			t.expectAccepted(t.post(ctx, protocol.BaohanApply, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.extra-fields", Interface: protocol.BaohanApply,
		Title: "unknown extra fields are accepted and signed over", Expected: "code 1 with jbrname, jbrphone signed",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["jbrname"], f["jbrphone"] = "张三", "13800000000"
			t.expectAccepted(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "sign.empty-fields", Interface: protocol.BaohanApply,
		Title: "empty fields are sent but left out of the sign", Expected: "code 1 with bak1:\"\" unsigned",
		Run: func(ctx context.Context, t *T) {
			f := fresh(ctx, t).fields
			f["bak1"] = ""
			t.expectAccepted(t.call(ctx, protocol.BaohanApply, f))
		}})
	add(Check{ID: "baohanapply.repeat", Interface: protocol.BaohanApply, Needs: []string{"baohanapply"}, Optional: true,
		Title: "the same application sent again (a retry, signed anew) is accepted: receivers are idempotent", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			t.expectAccepted(t.call(ctx, protocol.BaohanApply, ir.need(t, "A").fields))
		}})

	// --- before the guarantee exists
	add(Check{ID: "baohanrestore.before-issue", Interface: protocol.BaohanRestore, Needs: []string{"baohanapply"},
		Title: "a restore for an application without guarantee is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			f := ir.restoreFields(a, ir.cfg.Now().Add(-time.Minute), ir.proj.key)
			f["baohanno"] = "CONF-NONE"
			t.expectRefused(t.call(ctx, protocol.BaohanRestore, f))
		}})

	// --- A: underwriting and the ciphertext guarantee
	add(Check{ID: "baohannotice", Interface: protocol.BaohanNotice, Needs: []string{"baohanapply"},
		Title:    "after the bidder's steps the institution approves: baohannotice",
		Expected: "a valid baohannotice with applystatus 1, baohanno, instname, rate, cost",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			in := ir.underwrite(ctx, t, a)
			t.Pass("baohanno %s, %s, rate %s, cost %s", in.Get("baohanno"), in.Get("instname"), in.Get("rate"), in.Get("cost"))
		}})
	add(Check{ID: "downloadpublickey", Interface: protocol.DownloadPublicKey, Needs: []string{"baohannotice"},
		Title: "the institution fetches the platform's key for the applyno", Expected: "a valid downloadpublickey",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			ir.waitFor(ctx, t, protocol.DownloadPublicKey, a, nil)
			t.Pass("downloadpublickey %s", a.applyNo)
		}})
	var cipher *completion
	add(Check{ID: "uploadbaohanfile", Interface: protocol.UploadBaohanFile, Needs: []string{"baohannotice"},
		Title:    "the ciphertext guarantee arrives in chunks indexed from 1 (or 0) without gaps, then its completion notice",
		Expected: "contiguous indexes, as many as bak1 says when sent",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			cipher = ir.waitCompletion(ctx, t, a, protocol.FileTypeCipher)
			ir.observeChunks(t, a, protocol.FileTypeCipher)
			if cipher.indexErr != "" {
				t.Fail("%s", cipher.indexErr)
			}
			t.Pass("%d chunks, indexes %s", len(cipher.indexes), intsString(cipher.indexes))
		}})
	add(Check{ID: "baohanfilecompletenotice.keys", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile", "downloadpublickey"},
		Title:    "key and iv are SM2-encrypted for the downloaded key and decrypt the file (SM4-CBC)",
		Expected: "16-byte key and iv, PKCS#7 padding intact",
		Run: func(ctx context.Context, t *T) {
			if cipher.keyErr != "" {
				t.Fail("%s", cipher.keyErr)
			}
			t.Pass("decrypted: %d bytes", len(cipher.file))
		}})
	add(Check{ID: "baohanfilecompletenotice.digest", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"baohanfilecompletenotice.keys"},
		Title: "baohanfilemd5 is the digest of the decrypted file", Expected: "SM3 (64 hex) or MD5 (32 hex) matching the file",
		Run: func(ctx context.Context, t *T) {
			if cipher.digestErr != "" {
				t.Fail("%s", cipher.digestErr)
			}
			t.Pass("%s matches", cipher.alg)
		}})
	add(Check{ID: "guarantee.sealed", Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "the ciphertext guarantee is an OFD whose seals verify", Expected: "OFD, every seal valid" + ir.rootsNote(),
		Run: func(ctx context.Context, t *T) {
			summary, text, err := ir.verify(cipher.file, ir.cfg.TrustRoots)
			if err != nil {
				t.Fail("%v", err)
			}
			if leak := ir.leaks(text); leak != "" {
				t.Fail("%s; but the ciphertext guarantee shows the project in plaintext: %s", summary, leak)
			}
			t.Pass("%s; project fields not in plaintext", summary)
		}})
	add(Check{ID: "guarantee.agreement", Needs: []string{"baohanfilecompletenotice.digest"},
		Title:    "the ciphertext guarantee names its application, has no content outside its seals and carries the 保函委托协议 signed by the bidder",
		Expected: "CustomData baohanno and applyno (or the number on the pages); every entry under a seal; an attached OFD signed with the bidder's certificate",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			v, err := ir.checkContents(cipher.file, a, 1, "")
			if err != nil {
				t.Fail("%v", err)
			}
			t.Pass("%s, signed by %s", v.Agreement.Attachment, v.Agreement.Signer)
		}})
	add(Check{ID: "giveupapply.after-success", Interface: protocol.GiveupApply, Needs: []string{"baohannotice"},
		Title: "a give-up after the success notice is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			t.expectRefused(t.call(ctx, protocol.GiveupApply, map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo}))
		}})
	invoice := func(a *iapp, typ string) map[string]string {
		return map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo, "baohanno": a.baohanNo,
			"biddername": ir.bidder.Name, "biddercode": ir.bidder.CreditCode, "amount": "100.00", "type": typ,
			"email": "finance@bidder.example.cn"}
	}
	add(Check{ID: "invoiceapply.before-restore", Interface: protocol.InvoiceApply, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "an invoice request before the bid opening (restore) is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			t.expectRefused(t.call(ctx, protocol.InvoiceApply, invoice(ir.need(t, "A"), protocol.InvoiceOrdinary)))
		}})
	add(Check{ID: "baohanrestore.before-opening", Interface: protocol.BaohanRestore, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "a restore whose bid opening (kaibiaotime) is still ahead is refused", Expected: "code 0 for kaibiaotime now + 1 h",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			t.expectRefused(t.call(ctx, protocol.BaohanRestore, ir.restoreFields(a, ir.cfg.Now().Add(time.Hour), ir.proj.key)))
		}})
	add(Check{ID: "baohanrestore.wrong-key", Interface: protocol.BaohanRestore, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "a restore whose key does not decrypt the project fields is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			t.expectRefused(t.call(ctx, protocol.BaohanRestore, ir.restoreFields(a, ir.cfg.Now().Add(-time.Minute), gm.NewKey())))
		}})
	add(Check{ID: "field.required/baohanrestore", Interface: protocol.BaohanRestore, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "baohanrestore without key is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			f := ir.restoreFields(a, ir.cfg.Now().Add(-time.Minute), ir.proj.key)
			delete(f, "key")
			t.expectRefused(t.call(ctx, protocol.BaohanRestore, f))
		}})
	add(Check{ID: "baohanrestore", Interface: protocol.BaohanRestore, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "the restore after the bid opening is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			ir.mu.Lock()
			a.restored = true // from now on the kit accepts filetype 2
			ir.mu.Unlock()
			rep := t.callEventually(ctx, 10*ir.cfg.Settle, protocol.BaohanRestore, ir.restoreFields(a, ir.cfg.Now().Add(-time.Minute), ir.proj.key))
			if !ok(rep) {
				ir.mu.Lock()
				a.restored = false
				ir.mu.Unlock()
			}
			t.expectAccepted(rep)
		}})
	var plain *completion
	add(Check{ID: "baohanfilecompletenotice.plaintext", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"baohanrestore"},
		Title:    "after the restore the plaintext guarantee (filetype 2) arrives, decrypts and matches its digest",
		Expected: "contiguous chunks, key and iv, digest all valid",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			plain = ir.waitCompletion(ctx, t, a, protocol.FileTypePlain)
			ir.observeChunks(t, a, protocol.FileTypePlain)
			if p := plain.problem(); p != "" {
				t.Fail("%s", p)
			}
			t.Pass("%d chunks, %d bytes, %s matches", len(plain.indexes), len(plain.file), plain.alg)
		}})
	add(Check{ID: "guarantee.plaintext", Needs: []string{"baohanfilecompletenotice.plaintext"},
		Title: "the plaintext guarantee is an OFD whose seals verify and that shows the project", Expected: "seals valid; biaoduanno, biaoduanname, zbr in the text" + ir.rootsNote(),
		Run: func(ctx context.Context, t *T) {
			summary, text, err := ir.verify(plain.file, ir.cfg.TrustRoots)
			if err != nil {
				t.Fail("%v", err)
			}
			var missing []string
			for _, v := range []string{ir.proj.BiaoduanNo, ir.proj.BiaoduanName, ir.proj.Zbr} {
				if !strings.Contains(text, v) {
					missing = append(missing, v)
				}
			}
			if len(missing) > 0 {
				t.Fail("%s; but the text lacks %s", summary, strings.Join(missing, ", "))
			}
			t.Pass("%s; the project is shown", summary)
		}})
	add(Check{ID: "guarantee.plaintext.agreement", Needs: []string{"baohanfilecompletenotice.plaintext", "baohanfilecompletenotice.digest"},
		Title:    "the plaintext guarantee names its application, has no content outside its seals and carries the agreement signed by the bidder (or the ciphertext guarantee, byte for byte)",
		Expected: "as guarantee.agreement; an attached 密文保函.ofd is the ciphertext guarantee received",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			sum := sm3.Sum(cipher.file)
			v, err := ir.checkContents(plain.file, a, 2, hex.EncodeToString(sum[:]))
			if err != nil {
				t.Fail("%v", err)
			}
			if v.Agreement.InCipher {
				t.Pass("the agreement is in the attached ciphertext guarantee")
			}
			t.Pass("%s, signed by %s", v.Agreement.Attachment, v.Agreement.Signer)
		}})
	add(Check{ID: "quitapply.after-opening", Interface: protocol.QuitApply, Needs: []string{"baohanrestore"},
		Title:    "a withdrawal after the bid opening is refused",
		Expected: "code 0, or code 1 then quitnotice with applystatus 0",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			rep := t.call(ctx, protocol.QuitApply, map[string]string{"platformcode": ir.platformCode(),
				"applyno": a.applyNo, "baohanno": a.baohanNo, "reason": "开标后撤回（一致性测试）"})
			switch rep.code() {
			case protocol.CodeFail:
				t.Pass("refused: %q", clipText(rep.Resp.Message, 160))
			case protocol.CodeOK:
				in := ir.waitFor(ctx, t, protocol.QuitNotice, a, nil)
				if in.Get("applystatus") != protocol.StatusRefused {
					t.Fail("accepted, and quitnotice says applystatus %q (tuibaotime %s): the guarantee was withdrawn after the bid opening",
						in.Get("applystatus"), in.Get("tuibaotime"))
				}
				t.Pass("received, then refused by quitnotice applystatus 0")
			}
			t.Fail("%s", rep.describe())
		}})
	add(Check{ID: "field.required-if/invoiceapply", Interface: protocol.InvoiceApply, Needs: []string{"baohanrestore"},
		Title: "a special invoice (type 1) without address, phone, bank and account is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			t.expectRefused(t.call(ctx, protocol.InvoiceApply, invoice(ir.need(t, "A"), protocol.InvoiceSpecial)))
		}})
	add(Check{ID: "field.maxlength/invoiceapply", Interface: protocol.InvoiceApply, Needs: []string{"baohanrestore"},
		Title: "invoiceapply with an email longer than 100 characters is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := invoice(ir.need(t, "A"), protocol.InvoiceOrdinary)
			f["email"] = strings.Repeat("x", 90) + "@bidder.example.cn"
			t.expectRefused(t.call(ctx, protocol.InvoiceApply, f))
		}})
	add(Check{ID: "invoiceapply", Interface: protocol.InvoiceApply, Needs: []string{"baohanrestore"},
		Title: "an invoice request after the restore is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			t.expectAccepted(t.callEventually(ctx, 10*ir.cfg.Settle, protocol.InvoiceApply, invoice(ir.need(t, "A"), protocol.InvoiceOrdinary)))
		}})
	add(Check{ID: "invoicenotice", Interface: protocol.InvoiceNotice, Needs: []string{"invoiceapply"},
		Title: "the institution notifies the invoice", Expected: "a valid invoicenotice for the baohanno",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			in := ir.waitFor(ctx, t, protocol.InvoiceNotice, a, nil)
			t.Pass("applystatus %s, invoiceno %q, invoiceurl %s", in.Get("applystatus"), in.Get("invoiceno"), clipText(in.Get("invoiceurl"), 60))
		}})
	claim := func(a *iapp) map[string]string {
		return map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo, "baohanno": a.baohanNo,
			"payeraccount": "6222000000000000000", "payeramount": "20000.00", "applyusername": "一致性测试招标代理",
			"applyuserphone": "13900000000", "reason": "中标后拒签合同",
			"filelist": `[{"fileurl":"https://platform.example.cn/claims/1.pdf"},{"fileurl":"https://platform.example.cn/claims/2.pdf"}]`}
	}
	add(Check{ID: "field.filelist/claimsnotice", Interface: protocol.ClaimsNotice, Needs: []string{"baohanrestore"},
		Title: "a claim whose filelist is not a JSON array of {fileurl} is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := claim(ir.need(t, "A"))
			f["filelist"] = "https://platform.example.cn/claims/1.pdf"
			t.expectRefused(t.call(ctx, protocol.ClaimsNotice, f))
		}})
	add(Check{ID: "field.required/claimsnotice", Interface: protocol.ClaimsNotice, Needs: []string{"baohanrestore"},
		Title: "claimsnotice without applyuserphone is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := claim(ir.need(t, "A"))
			delete(f, "applyuserphone")
			t.expectRefused(t.call(ctx, protocol.ClaimsNotice, f))
		}})
	add(Check{ID: "field.maxlength/claimsnotice", Interface: protocol.ClaimsNotice, Needs: []string{"baohanrestore"},
		Title: "claimsnotice with a reason longer than 500 characters is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := claim(ir.need(t, "A"))
			f["reason"] = strings.Repeat("拒", 501)
			t.expectRefused(t.call(ctx, protocol.ClaimsNotice, f))
		}})
	add(Check{ID: "claimsnotice", Interface: protocol.ClaimsNotice, Needs: []string{"baohanrestore"},
		Title: "a claim on the guarantee is accepted (见索即付)", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "A")
			rep := t.callEventually(ctx, 10*ir.cfg.Settle, protocol.ClaimsNotice, claim(a))
			if rep.code() == protocol.CodeOK {
				ir.mu.Lock()
				a.claimed = true
				ir.mu.Unlock()
			}
			t.expectAccepted(rep)
		}})
	// The optional claim outcome interfaces (EXTENSIONS.md §1), when the
	// institution enables them.
	claimOutcome := func(i protocol.Interface, step string, do func(context.Context, ClaimOutcomeDriver, *iapp) error, check func(t *T, in *Inbound)) func(context.Context, *T) {
		return func(ctx context.Context, t *T) {
			if !ir.cfg.enabled(i) {
				t.Skip("the institution does not enable %s (Config.Extensions, --extensions)", i)
			}
			cd, ok := ir.d.(ClaimOutcomeDriver)
			if !ok {
				t.Skip("the driver cannot %s", step)
			}
			a := ir.need(t, "A")
			if err := do(ctx, cd, a); errors.Is(err, ErrUnsupported) {
				t.Skip("the driver cannot %s", step)
			} else if err != nil {
				t.Fail("%s: %v", step, err)
			}
			in := ir.waitFor(ctx, t, i, a, nil)
			check(t, in)
		}
	}
	add(Check{ID: "claimsresultnotice", Interface: protocol.ClaimsResultNotice, Needs: []string{"claimsnotice"}, Optional: true,
		Title:    "the institution reports the claim paid (理赔结果通知)",
		Expected: "a valid claimsresultnotice, compensatestatus 2, compensateamount at most the guaranteed amount",
		Run: claimOutcome(protocol.ClaimsResultNotice, "record the claim paid",
			func(ctx context.Context, cd ClaimOutcomeDriver, a *iapp) error {
				return cd.PayClaim(ctx, a.applyNo, kitBond)
			},
			func(t *T, in *Inbound) {
				if in.Get("compensatestatus") != protocol.CompensatePaid {
					t.Fail("compensatestatus %q, want \"2\" (已赔付)", in.Get("compensatestatus"))
				}
				t.Pass("compensatestatus 2, compensateamount %s, compensateway %s, transferfilelist %s", in.Get("compensateamount"),
					in.Get("compensateway"), clipText(in.Get("transferfilelist"), 80))
			})})
	add(Check{ID: "claimsrepaynotice", Interface: protocol.ClaimsRepayNotice, Needs: []string{"claimsresultnotice"}, Optional: true,
		Title:    "the institution reports the money recovered (追偿结果通知)",
		Expected: "a valid claimsrepaynotice, repayamount at most the guaranteed amount",
		Run: claimOutcome(protocol.ClaimsRepayNotice, "record the money recovered",
			func(ctx context.Context, cd ClaimOutcomeDriver, a *iapp) error {
				return cd.RecoverClaim(ctx, a.applyNo, kitBond)
			},
			func(t *T, in *Inbound) {
				t.Pass("repaystatus %s, repayamount %s, iszbrcooperate %s", in.Get("repaystatus"), in.Get("repayamount"), in.Get("iszbrcooperate"))
			})})

	// --- B: withdrawn; C: given up at the platform; D: cancelled; E: given up at the institution
	add(Check{ID: "quitapply", Interface: protocol.QuitApply, Needs: []string{"baohanfilecompletenotice.digest"},
		Title: "a withdrawal before the bid opening is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := ir.newApplied(ctx, t, "B")
			ir.issued(ctx, t, a)
			t.expectAccepted(t.callEventually(ctx, 10*ir.cfg.Settle, protocol.QuitApply, map[string]string{"platformcode": ir.platformCode(),
				"applyno": a.applyNo, "baohanno": a.baohanNo, "reason": "投标人撤回投标文件"}))
		}})
	add(Check{ID: "quitnotice", Interface: protocol.QuitNotice, Needs: []string{"quitapply"},
		Title: "the institution notifies the withdrawal's result", Expected: "a valid quitnotice (tuibaotime when applystatus 1)",
		Run: func(ctx context.Context, t *T) {
			a := ir.need(t, "B")
			in := ir.waitFor(ctx, t, protocol.QuitNotice, a, nil)
			t.Pass("applystatus %s, tuibaotime %s", in.Get("applystatus"), in.Get("tuibaotime"))
		}})
	add(Check{ID: "giveupapply", Interface: protocol.GiveupApply, Needs: []string{"baohanapply"},
		Title: "a give-up of an application without success notice is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := ir.newApplied(ctx, t, "C")
			t.expectAccepted(t.call(ctx, protocol.GiveupApply, map[string]string{"platformcode": ir.platformCode(), "applyno": a.applyNo}))
		}})
	add(Check{ID: "canclenotice", Interface: protocol.CancelNotice, Needs: []string{"baohanfilecompletenotice.digest"}, Optional: true,
		Title: "a cancellation of an issued guarantee is accepted (an optional interface)", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := ir.newApplied(ctx, t, "D")
			ir.issued(ctx, t, a)
			t.expectAccepted(t.callEventually(ctx, 10*ir.cfg.Settle, protocol.CancelNotice, map[string]string{"platformcode": ir.platformCode(),
				"applyno": a.applyNo, "baohanno": a.baohanNo}))
		}})
	add(Check{ID: "giveupnotice", Interface: protocol.GiveupNotice, Needs: []string{"baohanapply"},
		Title: "a bidder's give-up at the institution is notified", Expected: "a valid giveupnotice",
		Run: func(ctx context.Context, t *T) {
			a := ir.newApplied(ctx, t, "E")
			drive(t, "give up an application at the institution", ir.d.GiveUp(ctx, ir.task(a)))
			ir.waitFor(ctx, t, protocol.GiveupNotice, a, nil)
			t.Pass("giveupnotice %s", a.applyNo)
		}})

	add(Check{ID: "calls.valid",
		Title:    "every call the institution made to the kit was signed, in time and valid",
		Expected: "no call refused by the kit for its form",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			all := ir.ib.all("")
			for _, in := range all {
				if len(in.Problems) > 0 {
					t.Observe(in.Exchange)
					bad = append(bad, fmt.Sprintf("%s: %s", in.Interface, strings.Join(in.Problems, "; ")))
				}
			}
			if len(bad) > 0 {
				t.Fail("%d refused: %s", len(bad), strings.Join(bad, " | "))
			}
			t.Pass("%d calls, all valid", len(all))
		}})
	add(answersCheck(ir.w))
	return cs
}

func (ir *institutionRun) rootsNote() string {
	if len(ir.cfg.TrustRoots) == 0 {
		return ""
	}
	return ", chained to the trusted roots"
}

// leaks returns the project fields that appear in plaintext in text.
func (ir *institutionRun) leaks(text string) string {
	var out []string
	for _, v := range []string{ir.proj.BiaoduanNo, ir.proj.BiaoduanName, ir.proj.Zbr} {
		if strings.Contains(text, v) {
			out = append(out, v)
		}
	}
	return strings.Join(out, ", ")
}

// observeChunks adds a summary of the chunks of a file to the check's
// exchanges (the raw chunks are too large to show).
func (ir *institutionRun) observeChunks(t *T, a *iapp, filetype string) {
	ir.mu.Lock()
	f := a.files[filetype]
	var arrival []int
	if f != nil {
		arrival = append(arrival, f.arrival...)
	}
	ir.mu.Unlock()
	t.Observe(Exchange{Direction: "in", Interface: protocol.UploadBaohanFile,
		Request: fmt.Sprintf("chunks of filetype %s for %s, indexes in arrival order: %s", filetype, a.applyNo, intsString(arrival))})
}

// zipText returns the XML text of every entry of an OFD (a zip), entities
// decoded: a crude but independent view of what a document shows.
func zipText(file []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return "", fmt.Errorf("not an OFD (zip): %v", err)
	}
	var b strings.Builder
	for _, f := range zr.File {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".xml") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		x, err := io.ReadAll(io.LimitReader(rc, 32<<20))
		rc.Close()
		if err != nil {
			return "", err
		}
		b.WriteString(html.UnescapeString(string(x)))
		b.WriteByte('\n')
	}
	return b.String(), nil
}
