package reliability

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/store"
)

// baohanBin is the binary built once by TestMain.
var baohanBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "baohan-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	baohanBin = filepath.Join(dir, "baohan")
	build := exec.Command("go", "build", "-o", baohanBin, "github.com/baohan-dev/baohan/cmd/baohan")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building baohan:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one service running as a real process of the built binary.
type proc struct {
	t    *testing.T
	name string
	args []string
	addr string // 127.0.0.1:port, kept across restarts
	url  string
	data string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	runs int
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the process and waits until /healthz answers.
func (p *proc) start() {
	p.t.Helper()
	if err := p.run(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

// run is start for any goroutine: it returns the failure instead of
// ending the test, and gives up waiting when ctx ends.
func (p *proc) run(ctx context.Context) error {
	p.mu.Lock()
	p.runs++
	p.out = &bytes.Buffer{}
	cmd := exec.Command(baohanBin, p.args...)
	cmd.Env = append(os.Environ(), "BAOHAN_MASTER_KEY=")
	lw := &lockedWriter{mu: &p.mu, w: p.out}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() { cmd.Wait(); close(done) }()
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited at start:\n%s", p.name, p.output())
		case <-ctx.Done():
			return fmt.Errorf("%s: stopped waiting for /healthz: %w", p.name, ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after 30s:\n%s", p.name, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("%s: kill: %w", p.name, err)
	}
	<-done
	return nil
}

// stop ends the process gracefully (SIGTERM).
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// pair is a platform and an institution as processes, each behind a
// Door (a recording, fault-injecting reverse proxy in this process) that
// the other side calls.
type pair struct {
	t              *testing.T
	dir            string
	pki            *harness.PKI
	plat, inst     *proc
	platDoor       *harness.Door
	instDoor       *harness.Door
	platDB, instDB string // SQLite files
}

func newPair(t *testing.T) *pair {
	t.Helper()
	dir := t.TempDir()
	pk, err := harness.NewPKI(dir, harness.Parties{})
	if err != nil {
		t.Fatal(err)
	}
	pr := &pair{t: t, dir: dir, pki: pk}
	if pr.platDoor, err = harness.NewDoor("platform"); err != nil {
		t.Fatal(err)
	}
	if pr.instDoor, err = harness.NewDoor("institution"); err != nil {
		t.Fatal(err)
	}
	pAddr, iAddr := freeAddr(t), freeAddr(t)
	pData, iData := filepath.Join(dir, "platform"), filepath.Join(dir, "institution")
	pr.platDB, pr.instDB = filepath.Join(pData, "platform.db"), filepath.Join(iData, "institution.db")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	platCfg := write("platform.toml", fmt.Sprintf(`
trust_roots = [%q]
admin_token = %q

[listen]
addr = %q
plain_http = true
public_url = %q

[storage]
data_dir = %q

[outbox]
poll_interval = "50ms"
lease = "7s"
backoff_max = "1s"

[[institution]]
name = %q
appkey = %q
appsecret = %q
base_url = %q
platformcode = %q
chunk_size = 1024
timeout = "2s"
rate_limit = -1
seal_certs = [%q]

[[institution.product]]
name = %q
rate = "0.005"
min_premium = "100"
`, pk.CAFile, harness.PlatformAdmin, pAddr, pr.platDoor.URL, pData, harness.InstitutionName, harness.AppKey, harness.AppSecret,
		pr.instDoor.URL, harness.PlatformCode, pk.InstCertFile(), harness.Product))
	instCfg := write("institution.toml", fmt.Sprintf(`
trust_roots = [%q]

[listen]
addr = %q
plain_http = true
public_url = %q

[storage]
data_dir = %q

[institution]
name = %q
credit_code = %q
seal_cert = %q
seal_key = %q
baohanno_prefix = "HXDB"

[admin]
token = %q

[underwriting]
mode = "auto"
max_bond = "5000000"

[invoicing]
mode = "auto"
code = "033002300111"

[[product]]
name = %q
rate = "0.005"
min_premium = "100"

[[platform]]
name = %q
appkey = %q
appsecret = %q
base_url = %q
platformcode = %q
chunk_size = 1024
timeout = "1s"
rate_limit = -1

[outbox]
poll = "50ms"
retry_initial = "50ms"
retry_max = "500ms"
lease = "6s"
`, pk.CAFile, iAddr, pr.instDoor.URL, iData, harness.InstitutionName, harness.InstCreditCode, pk.InstCertFile(),
		pk.InstKeyFile(), harness.InstAdmin, harness.Product, harness.PlatformName, harness.AppKey, harness.AppSecret,
		pr.platDoor.URL, harness.PlatformCode))
	pr.plat = &proc{t: t, name: "platform", addr: pAddr, url: "http://" + pAddr, data: pData,
		args: []string{"platform", "serve", "--config", platCfg, "--log-level", "debug"}}
	pr.inst = &proc{t: t, name: "institution", addr: iAddr, url: "http://" + iAddr, data: iData,
		args: []string{"institution", "serve", "--config", instCfg}}
	pr.platDoor.Set(proxyTo(pr.plat.url))
	pr.instDoor.Set(proxyTo(pr.inst.url))
	t.Cleanup(func() {
		pr.platDoor.Close()
		pr.instDoor.Close()
		pr.plat.stop()
		pr.inst.stop()
		if t.Failed() {
			t.Logf("platform output (last run):\n%s", tail(pr.plat.output(), 6000))
			t.Logf("institution output (last run):\n%s", tail(pr.inst.output(), 6000))
		}
	})
	pr.plat.start()
	pr.inst.start()
	return pr
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// proxyTo forwards to a process; while it is down the caller gets 502.
func proxyTo(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "bad gateway: "+err.Error(), http.StatusBadGateway)
	}
	return rp
}

// admin calls a service's admin API and decodes the JSON answer.
func admin(t *testing.T, base, token, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %.300s", method, path, err, b)
		}
	}
	if res.StatusCode >= 300 && out != nil {
		t.Logf("%s %s: HTTP %d %.300s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

// platState and instState read the application's state from the admin APIs.
func (pr *pair) platState(applyNo string) (state, baohanNo string) {
	var d struct {
		Application struct {
			State       string `json:"state"`
			BaohanNo    string `json:"baohanno"`
			RedirectURL string `json:"redirecturl"`
		} `json:"application"`
	}
	if admin(pr.t, pr.plat.url, harness.PlatformAdmin, "GET", "/api/applications/"+applyNo, nil, &d) != 200 {
		return "", ""
	}
	return d.Application.State, d.Application.BaohanNo
}

func (pr *pair) instState(applyNo string) (state, baohanNo string) {
	var list []struct {
		ApplyNo  string `json:"applyno"`
		State    string `json:"state"`
		BaohanNo string `json:"baohanno"`
	}
	if admin(pr.t, pr.inst.url, harness.InstAdmin, "GET", "/api/applications?applyno="+url.QueryEscape(applyNo), nil, &list) != 200 {
		return "", ""
	}
	for _, a := range list {
		if a.ApplyNo == applyNo {
			return a.State, a.BaohanNo
		}
	}
	return "", ""
}

// waitFor polls cond (every 20ms, at most limit).
func (pr *pair) waitFor(what string, limit time.Duration, cond func() bool) {
	pr.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			ps, _ := pr.platState(lastApplyNo(pr))
			is, _ := pr.instState(lastApplyNo(pr))
			pr.t.Fatalf("gave up waiting (%s) for %s (platform %s, institution %s)", limit, what, ps, is)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var applyNos sync.Map // *pair → applyno, for messages

func lastApplyNo(pr *pair) string {
	v, _ := applyNos.Load(pr)
	s, _ := v.(string)
	return s
}

// setup registers the bidder and a section opening at kaibiao, and
// applies: it returns the applyno.
func (pr *pair) apply(kaibiao time.Time) string {
	t := pr.t
	t.Helper()
	if st := admin(t, pr.plat.url, harness.PlatformAdmin, "POST", "/api/bidders", map[string]string{"name": harness.BidderName,
		"credit_code": harness.BidderCode, "cert_pem": string(pr.pki.Bidder.CertPEM)}, &struct{}{}); st != 200 && st != 201 {
		t.Fatalf("register bidder: HTTP %d", st)
	}
	if st := admin(t, pr.plat.url, harness.PlatformAdmin, "POST", "/api/sections", map[string]any{"section_no": "BD-2026-0001",
		"name": "城南污水处理厂提标改造工程施工", "tenderer": "某市城市建设投资集团有限公司", "tenderer_code": "91330100MA2CTY001W",
		"bond_amount": "800000.00", "kaibiaotime": kaibiao}, &struct{}{}); st != 200 && st != 201 {
		t.Fatalf("register section: HTTP %d", st)
	}
	var a struct {
		ApplyNo string `json:"applyno"`
	}
	if st := admin(t, pr.plat.url, harness.PlatformAdmin, "POST", "/api/applications", map[string]string{"section_no": "BD-2026-0001",
		"bidder_code": harness.BidderCode, "institution": harness.InstitutionName, "product": harness.Product}, &a); (st != 200 && st != 201) || a.ApplyNo == "" {
		t.Fatalf("apply: HTTP %d", st)
	}
	applyNos.Store(pr, a.ApplyNo)
	return a.ApplyNo
}

// token waits for the redirecturl and returns the bidder token.
func (pr *pair) token(applyNo string) string {
	var u string
	pr.waitFor("the redirecturl", 30*time.Second, func() bool {
		var d struct {
			Application struct {
				RedirectURL string `json:"redirecturl"`
			} `json:"application"`
		}
		admin(pr.t, pr.plat.url, harness.PlatformAdmin, "GET", "/api/applications/"+applyNo, nil, &d)
		u = d.Application.RedirectURL
		return u != ""
	})
	return u[strings.Index(u, "/bidder/")+len("/bidder/"):]
}

// checkEnd compares both sides through the admin APIs, then stops the
// processes and checks the databases: exact histories, verified
// guarantees from every chunk, settled outboxes, intact chains (with
// the binary's audit verify, too).
func (pr *pair) checkEnd(applyNo string) {
	t := pr.t
	t.Helper()
	pr.waitFor("both outboxes to settle", 30*time.Second, func() bool {
		for _, st := range []string{"pending", "delivering", "failed"} {
			var c1, c2 []json.RawMessage
			admin(t, pr.plat.url, harness.PlatformAdmin, "GET", "/api/outbox?state="+st, nil, &c1)
			admin(t, pr.inst.url, harness.InstAdmin, "GET", "/api/outbox?state="+st, nil, &c2)
			if len(c1)+len(c2) > 0 {
				return false
			}
		}
		return true
	})
	ps, pb := pr.platState(applyNo)
	is, ib := pr.instState(applyNo)
	if ps != "plain_received" || is != "restored" || pb == "" || pb != ib {
		t.Errorf("admin APIs: platform %s %q, institution %s %q", ps, pb, is, ib)
	}
	// The guarantees the platform holds are, byte for byte, the OFD files
	// the institution sealed (platform: SM3 and size; institution: the file).
	var list []struct {
		ID      string `json:"id"`
		ApplyNo string `json:"applyno"`
	}
	admin(t, pr.inst.url, harness.InstAdmin, "GET", "/api/applications?applyno="+url.QueryEscape(applyNo), nil, &list)
	for _, ft := range []string{"1", "2"} {
		var g struct {
			SM3     string `json:"sm3"`
			Size    int64  `json:"size"`
			SealsOK bool   `json:"seals_ok"`
		}
		admin(t, pr.plat.url, harness.PlatformAdmin, "GET", "/api/guarantees/"+applyNo+"/"+ft, nil, &g)
		if len(list) != 1 {
			t.Fatalf("institution list for %s: %d applications", applyNo, len(list))
		}
		req, _ := http.NewRequest("GET", pr.inst.url+"/api/applications/"+list[0].ID+"/guarantee?filetype="+ft, nil)
		req.Header.Set("Authorization", "Bearer "+harness.InstAdmin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := io.ReadAll(res.Body)
		res.Body.Close()
		sum := sm3.Sum(doc)
		if res.StatusCode != 200 || hex.EncodeToString(sum[:]) != g.SM3 || int64(len(doc)) != g.Size || !g.SealsOK {
			t.Errorf("filetype %s: platform holds SM3 %.16s… %d bytes (seals ok %v); the institution's file (HTTP %d) is SM3 %.16x… %d bytes",
				ft, g.SM3, g.Size, g.SealsOK, res.StatusCode, sum, len(doc))
		}
	}
	pr.plat.stop()
	pr.inst.stop()
	ctx := context.Background()
	open := func(f string) *store.DB {
		db, err := store.Open(ctx, f, "", store.WithoutSharedMigrations())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	pdb, idb := open(pr.platDB), open(pr.instDB)
	for _, m := range []string{
		harness.CheckHappyHistory(ctx, pdb, idb, applyNo),
		harness.CheckGuarantees(ctx, pdb, idb, applyNo),
		harness.OutboxProblems(ctx, pdb, "platform"),
		harness.OutboxProblems(ctx, idb, "institution"),
	} {
		if m != "" {
			t.Error(m)
		}
	}
	for _, side := range []string{"platform", "institution"} {
		data := pr.plat.data
		if side == "institution" {
			data = pr.inst.data
		}
		out, err := exec.Command(baohanBin, "audit", "verify", "--data", data).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "message log: ok, ") || !strings.Contains(string(out), "console audit log: ok, ") {
			t.Errorf("baohan audit verify --data %s: %v %s", side, err, out)
		}
	}
}
