package servicetest

import (
	"encoding"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/transport"
)

// Effect is how a configuration key is seen to take effect in a service
// built from it: Set gives the key another value in a configuration C,
// Seen reads, from the service S, what the key decides there (a field of
// the dispatcher, the pipeline, a peer, an answer of the API, or the
// setting where the service reads it at request time).
type Effect[C, S any] struct {
	Set  func(t testing.TB, c *C)
	Seen func(s S) any
}

// Keys are the TOML keys of the configuration type of v (a struct),
// dotted, with the keys of an array of tables ([[institution]],
// [[institution.product]]) written once: institution.product.rate.
func Keys(v any) []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if !f.IsExported() || tag == "-" {
				continue
			}
			ft := f.Type
			if f.Anonymous && tag == "" {
				walk(prefix, ft)
				continue
			}
			key := prefix + tag
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
				walk(key+".", ft)
				continue
			}
			out = append(out, key)
		}
	}
	walk("", reflect.TypeOf(v))
	slices.Sort(out)
	return out
}

// KeysTakeEffect builds a service from fresh() (the example
// configuration, made runnable), then for every key of the configuration
// type builds one with that key alone changed (its Effect's Set) and
// fails unless what Seen reads differs: a key the service declares and
// reads nowhere fails, and so does a key without an Effect.
func KeysTakeEffect[C, S any](t *testing.T, fresh func(t testing.TB) C, build func(t testing.TB, c C) S, effects map[string]Effect[C, S]) {
	t.Helper()
	var zero C
	keys := Keys(zero)
	for _, k := range keys {
		if _, ok := effects[k]; !ok {
			t.Errorf("%s: no effect is known: a key the service declares must change something in it", k)
		}
	}
	for k := range effects {
		if !slices.Contains(keys, k) {
			t.Errorf("%s: an effect for a key the configuration does not have", k)
		}
	}
	if t.Failed() {
		return
	}
	base := build(t, fresh(t))
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			e := effects[k]
			before := e.Seen(base)
			c := fresh(t)
			e.Set(t, &c)
			after := e.Seen(build(t, c))
			if reflect.DeepEqual(before, after) {
				t.Errorf("changing %s changed nothing the service does (%v)", k, before)
			}
		})
	}
}

// CommonEffects are the effects of the keys every service has
// (config.Common) and of its peers' keys (config.Peer, under peerTable,
// e.g. "institution"), seen in the service's core and handler.
func CommonEffects[C, S any](common func(*C) *config.Common, firstPeer func(*C) *config.Peer, peerTable string,
	core func(S) *service.Core, handler func(S) http.Handler) map[string]Effect[C, S] {
	type E = Effect[C, S]
	cm := func(set func(t testing.TB, c *config.Common)) func(t testing.TB, c *C) {
		return func(t testing.TB, c *C) { set(t, common(c)) }
	}
	pe := func(set func(t testing.TB, p *config.Peer)) func(t testing.TB, c *C) {
		return func(t testing.TB, c *C) { set(t, firstPeer(c)) }
	}
	d := func(v time.Duration) config.Duration { return config.Duration{Duration: v} }
	// What service.Listen (cmd), the consoles and the institution's
	// redirect URLs are given.
	listen := func(s S) config.Listen { return core(s).Config.Listen }
	out := map[string]E{
		"trust_roots": {Set: cm(func(t testing.TB, c *config.Common) { c.TrustRoots = append(c.TrustRoots, newCAFile(t)) }),
			Seen: func(s S) any { return core(s).Roots.Len() }},
		"trust_root.file": {Set: cm(func(t testing.TB, c *config.Common) {
			c.TrustRoot = append(c.TrustRoot, config.TrustRoot{File: newCAFile(t)})
		}),
			Seen: func(s S) any { return core(s).Roots.Len() }},
		// Where the certificates of a CA configured in [[trust_root]] are
		// read for the credit code.
		"trust_root.credit_code_in": {Set: cm(func(t testing.TB, c *config.Common) {
			caPEM, _ := keysCA()
			file := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(file, caPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			c.TrustRoot = append(c.TrustRoot, config.TrustRoot{File: file, CreditCodeIn: pki.InCN})
		}), Seen: func(s S) any { _, leaf := keysCA(); return core(s).CreditCodes.In(leaf).String() }},
		"timestamp_window": {Set: func(t testing.TB, c *C) {
			common(c).TimestampWindow = d(3 * time.Minute)
			firstPeer(c).TimestampWindow = config.Duration{} // so that the peer takes the service's
		}, Seen: func(s S) any { return peerWindows(core(s)) }},
		"listen.addr":       {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.Addr = "127.0.0.1:1" }), Seen: func(s S) any { return listen(s).Addr }},
		"listen.tls_cert":   {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.TLSCert += ".other" }), Seen: func(s S) any { return listen(s).TLSCert }},
		"listen.tls_key":    {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.TLSKey += ".other" }), Seen: func(s S) any { return listen(s).TLSKey }},
		"listen.plain_http": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.Plain = !c.Listen.Plain }), Seen: func(s S) any { return listen(s).Plain }},
		"listen.public_url": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.PublicURL = "https://other.example" }), Seen: func(s S) any { return listen(s).PublicURL }},
		"listen.prefix":     {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.Prefix = "/other" }), Seen: func(s S) any { return core(s).Server.Prefix }},
		"listen.trusted_proxies": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.TrustedProxies = []string{"192.0.2.1"} }),
			Seen: func(s S) any { return fmt.Sprint(core(s).Server.TrustedProxies) }},
		"listen.unauthenticated_log_per_address": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.UnauthenticatedLogPerAddress = 4096 }),
			Seen: func(s S) any { return core(s).Server.UnauthenticatedBudget }},
		"listen.unauthenticated_log_total": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.UnauthenticatedLogTotal = 8192 }),
			Seen: func(s S) any { return core(s).Server.UnauthenticatedBudget }},
		"listen.max_body": {Set: cm(func(_ testing.TB, c *config.Common) { c.Listen.MaxBody = 4096 }), Seen: func(s S) any { return core(s).Server.MaxBody }},
		"storage.db": {Set: cm(func(t testing.TB, c *config.Common) {
			c.Storage.DB = "sqlite:" + filepath.Join(t.TempDir(), "other.db")
		}),
			Seen: func(s S) any { return sqliteFile(core(s)) }},
		"storage.data_dir": {Set: cm(func(t testing.TB, c *config.Common) { c.Storage.DataDir = t.TempDir() }),
			Seen: func(s S) any { return filepath.Dir(sqliteFile(core(s))) }},
		"storage.master_key_file": {Set: cm(func(t testing.TB, c *config.Common) {
			c.Storage.MasterKeyFile = filepath.Join(t.TempDir(), "other.key")
		}),
			Seen: masterKeySeen(core)},
		"storage.blobs": {Set: cm(func(_ testing.TB, c *config.Common) { c.Storage.Blobs = config.BlobsDB }), Seen: func(s S) any { return fmt.Sprintf("%T", core(s).Blobs) }},
		"admin.token":   {Set: cm(func(_ testing.TB, c *config.Common) { c.Admin.Token = "another-token-0123456789" }), Seen: adminSeen(handler)},
		"admin.token_file": {Set: cm(func(t testing.TB, c *config.Common) {
			c.Admin.Token, c.Admin.TokenFile = "", filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(c.Admin.TokenFile, []byte("token-from-the-file-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}), Seen: adminSeen(handler)},
		"outbox.workers":       {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.Workers = 7 }), Seen: func(s S) any { return core(s).Dispatcher.Workers }},
		"outbox.poll":          {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.Poll = d(7 * time.Second) }), Seen: func(s S) any { return core(s).Dispatcher.PollInterval }},
		"outbox.lease":         {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.Lease = d(7 * time.Minute) }), Seen: func(s S) any { return core(s).Dispatcher.Lease }},
		"outbox.retry_initial": {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.RetryInitial = d(3 * time.Second) }), Seen: func(s S) any { return core(s).Dispatcher.Backoff.Initial }},
		"outbox.retry_max":     {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.RetryMax = d(7 * time.Minute) }), Seen: func(s S) any { return core(s).Dispatcher.Backoff.Max }},
		"outbox.max_attempts":  {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.MaxAttempts = 7 }), Seen: func(s S) any { return core(s).Dispatcher.Backoff.MaxAttempts }},
		"outbox.per_peer":      {Set: cm(func(_ testing.TB, c *config.Common) { c.Outbox.PerPeer = 3 }), Seen: func(s S) any { return core(s).Dispatcher.PerPeer }},
		"fetch.allow_private_addresses": {Set: cm(func(_ testing.TB, c *config.Common) { c.Fetch.AllowPrivateAddresses = !c.Fetch.AllowPrivateAddresses }),
			Seen: func(s S) any { return core(s).Files.Fetcher.AllowPrivate }},
	}
	peerKeys := map[string]E{
		"name":           {Set: pe(func(_ testing.TB, p *config.Peer) { p.Name = "renamed" }), Seen: func(s S) any { return mapKeys(core(s).Peers) }},
		"appkey":         {Set: pe(func(_ testing.TB, p *config.Peer) { p.AppKey = "another-appkey" }), Seen: func(s S) any { return mapKeys(core(s).ByAppKey) }},
		"appsecret":      {Set: pe(func(_ testing.TB, p *config.Peer) { p.AppSecret += "-other" }), Seen: func(s S) any { return secrets(core(s)) }},
		"appsecret_file": {Set: pe(secretFile), Seen: func(s S) any { return secrets(core(s)) }},
		"appsecret_env": {Set: pe(func(t testing.TB, p *config.Peer) {
			p.AppSecret, p.AppSecretEnv = "", "BAOHAN_TEST_SECRET_FROM_ENV"
			t.Setenv(p.AppSecretEnv, "secret-from-the-environment")
		}), Seen: func(s S) any { return secrets(core(s)) }},
		"base_url":     {Set: pe(func(_ testing.TB, p *config.Peer) { p.BaseURL = "https://other.example/x" }), Seen: peerField(core, func(p *transport.Peer) any { return p.BaseURL })},
		"platformcode": {Set: pe(func(_ testing.TB, p *config.Peer) { p.PlatformCode = "OTHER-CODE" }), Seen: peerField(core, func(p *transport.Peer) any { return p.PlatformCode })},
		"sm2_layout":   {Set: pe(func(_ testing.TB, p *config.Peer) { p.SM2Layout = "asn1" }), Seen: peerProfile(core)},
		"file_digest":  {Set: pe(func(_ testing.TB, p *config.Peer) { p.FileDigest = "md5" }), Seen: peerProfile(core)},
		"chunk_size":   {Set: pe(func(_ testing.TB, p *config.Peer) { p.ChunkSize = 64 << 10 }), Seen: peerProfile(core)},
		// The dialect keys (test/e2e TestDialectLifecycle shows each
		// value at work between the two services).
		"sign":           {Set: pe(func(_ testing.TB, p *config.Peer) { p.Sign = "hmac-sm3" }), Seen: peerProfile(core)},
		"encoding":       {Set: pe(func(_ testing.TB, p *config.Peer) { p.Encoding = "hex" }), Seen: peerProfile(core)},
		"max_chunk_size": {Set: pe(func(_ testing.TB, p *config.Peer) { p.MaxChunkSize = 1 << 20 }), Seen: peerProfile(core)},
		"index_base": {Set: pe(func(_ testing.TB, p *config.Peer) {
			zero := 0
			p.IndexBase = &zero
		}), Seen: peerProfile(core)},
		"timestamp_window": {Set: pe(func(_ testing.TB, p *config.Peer) { p.TimestampWindow = d(3 * time.Minute) }), Seen: peerProfile(core)},
		// Interface revision and message order.
		"revision":     {Set: pe(func(_ testing.TB, p *config.Peer) { p.Revision = "flat" }), Seen: peerProfile(core)},
		"upload_first": {Set: pe(func(_ testing.TB, p *config.Peer) { p.UploadFirst = !p.UploadFirst }), Seen: peerProfile(core)},
		"timeout":      {Set: pe(func(_ testing.TB, p *config.Peer) { p.Timeout = d(50 * time.Second) }), Seen: func(s S) any { return core(s).HTTP.Timeout }},
		"rate_limit":   {Set: pe(func(_ testing.TB, p *config.Peer) { p.RateLimit = 7 }), Seen: peerLimits(core)},
		"rate_burst":   {Set: pe(func(_ testing.TB, p *config.Peer) { p.RateBurst = 9 }), Seen: peerLimits(core)},
		"allow_from":   {Set: pe(func(_ testing.TB, p *config.Peer) { p.AllowFrom = []string{"192.0.2.0/24"} }), Seen: peerLimits(core)},
		"extensions": {Set: pe(func(_ testing.TB, p *config.Peer) { p.Extensions = []string{"claimsrepaynotice"} }),
			Seen: peerField(core, func(p *transport.Peer) any { return fmt.Sprint(p.Extensions) })},
	}
	for k, e := range peerKeys {
		out[peerTable+"."+k] = e
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// peerWindows are the peers' timestamp windows, by name.
func peerWindows(c *service.Core) map[string]time.Duration {
	out := map[string]time.Duration{}
	for n, p := range c.Peers {
		out[n] = p.Profile.TimestampWindow
	}
	return out
}

func secrets(c *service.Core) []string {
	var out []string
	for _, p := range c.Peers {
		out = append(out, p.AppSecret)
	}
	slices.Sort(out)
	return out
}

// peerField is f of every peer, by name.
func peerField[S any](core func(S) *service.Core, f func(p *transport.Peer) any) func(S) any {
	return func(s S) any {
		out := map[string]string{}
		for n, p := range core(s).Peers {
			out[n] = fmt.Sprint(f(p))
		}
		return out
	}
}

func peerProfile[S any](core func(S) *service.Core) func(S) any {
	return peerField(core, func(p *transport.Peer) any { return fmt.Sprintf("%+v", p.Profile) })
}

func peerLimits[S any](core func(S) *service.Core) func(S) any {
	return peerField(core, func(p *transport.Peer) any { return fmt.Sprint(p.RateLimit, p.AllowFrom) })
}

func secretFile(t testing.TB, p *config.Peer) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("secret-from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.AppSecret, p.AppSecretFile = "", path
}

// sqliteFile is the SQLite file the service opened.
func sqliteFile(c *service.Core) string {
	var file string
	if err := c.DB.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return "error: " + err.Error()
	}
	return file
}

// masterKeySeen tells whether the service's master key opens what the
// first service it saw sealed.
func masterKeySeen[S any](core func(S) *service.Core) func(S) any {
	var sealed string
	return func(s S) any {
		mk := core(s).MasterKey
		if sealed == "" {
			sealed, _ = mk.Seal([]byte("x"), "keys test")
			return true
		}
		_, err := mk.Open(sealed, "keys test")
		return err == nil
	}
}

// AdminToken is the admin token a KeysTakeEffect configuration must
// have: admin.token and admin.token_file are seen to take effect by the
// admin API's answer to it.
const AdminToken = "keys-test-admin-token-0123456789"

// adminSeen is the status of an admin request with AdminToken.
func adminSeen[S any](handler func(S) http.Handler) func(S) any {
	return func(s S) any {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/outbox/counts", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		handler(s).ServeHTTP(rec, req)
		return rec.Code
	}
}

// keysCA is a CA's certificate (PEM) and a certificate it issued, made
// once for the effect of trust_root.credit_code_in.
var keysCA = sync.OnceValues(func() ([]byte, *smx509.Certificate) {
	ca, err := pki.New("trust_root CA")
	if err != nil {
		panic(err)
	}
	id, err := ca.Issue("某某公司", pki.Bidder)
	if err != nil {
		panic(err)
	}
	return ca.CertPEM(), id.Cert
})

// newCAFile writes the certificate of a new test CA.
func newCAFile(t testing.TB) string {
	ca, err := testca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
