package bench

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// The building blocks of the scenarios, one at a time.

// The ceiling's work for one notice: parse and check the sign.
func BenchmarkVerifyHandler(b *testing.B) {
	h := &VerifyHandler{Secrets: map[string]string{"k": "secret"}}
	body := SignedBody(NoticeFields("BH20261127K7M2Q9XH4T3A", "BHN1", time.Now()), "k", "secret", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/baohannotice", strings.NewReader(string(body))))
		if rec.Body.Len() == 0 {
			b.Fatal("no answer")
		}
	}
}

// What an institution spends to send one 512 KiB chunk: base64, sign,
// JSON.
func BenchmarkUploadChunkBody(b *testing.B) {
	raw := make([]byte, chunk.DefaultSize)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		body := SignedBody(map[string]string{"applyno": "BH20261127K7M2Q9XH4T3A", "baohanno": "BHF1", "filetype": "1",
			"index": "1", "baohanfile": base64.StdEncoding.EncodeToString(raw)}, "k", "secret", time.Now())
		if len(body) == 0 {
			b.Fatal("empty body")
		}
	}
}

// One baohannotice through the platform on SQLite, over loopback HTTP,
// one client: the latency of the durable path without concurrency.
func BenchmarkPlatformNotice(b *testing.B) {
	ctx := context.Background()
	env, err := StartPlatform(ctx, PlatformOptions{Dir: b.TempDir(), DB: SQLite})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	sec, err := env.Section(ctx, "BN-"+randomHex(3), env.Clock.Now().Add(24*time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	p := NewPoster(1)
	defer p.Close()
	var bodies [][]byte
	seq := 0
	more := func() {
		now := env.Clock.Now()
		apps := make([]SeedApp, 500)
		for i := range apps {
			apps[i] = SeedApp{ApplyNo: platform.NewApplyNo(now), State: platform.Applied}
		}
		if err := env.Seed(ctx, sec, apps, false); err != nil {
			b.Fatal(err)
		}
		for _, a := range apps {
			seq++
			bodies = append(bodies, env.Body(0, NoticeFields(a.ApplyNo, "BHN"+strconv.Itoa(seq), now)))
		}
	}
	url := env.URL(protocol.BaohanNotice)
	for b.Loop() {
		if len(bodies) == 0 {
			b.StopTimer()
			more()
			b.StartTimer()
		}
		if _, err := p.Post(ctx, url, bodies[0]); err != nil {
			b.Fatal(err)
		}
		bodies = bodies[1:]
	}
}
