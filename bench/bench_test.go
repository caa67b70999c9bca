package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/chunk"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %g) = %v, want %v", tt.samples, tt.p, got, tt.want)
		}
	}
}

func TestLoadCountAndErrors(t *testing.T) {
	seen := make([]int, 100)
	st, err := Load{Clients: 7, Count: 100}.Run(context.Background(), func(_ context.Context, client, i int) error {
		seen[i]++ // each i is handed out once: no race on distinct elements
		if i%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("operation %d ran %d times", i, n)
		}
	}
	if st.N != 100 || st.Errors != 10 || st.OK() != 90 || len(st.Samples) != 90 {
		t.Fatalf("stats: N %d errors %d samples %d", st.N, st.Errors, len(st.Samples))
	}
	if len(st.ErrorSamples) != 1 || st.ErrorSamples[0] != "every tenth fails" {
		t.Fatalf("error samples %q", st.ErrorSamples)
	}
	for i := 1; i < len(st.Samples); i++ {
		if st.Samples[i] < st.Samples[i-1] {
			t.Fatal("samples not sorted")
		}
	}
}

func TestLoadDuration(t *testing.T) {
	st, err := Load{Clients: 3, Duration: 50 * time.Millisecond}.Run(context.Background(), func(ctx context.Context, _, _ int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.N == 0 || st.Errors != 0 {
		t.Fatalf("N %d errors %d: the duration bound must stop the load without counting the cut operations as errors", st.N, st.Errors)
	}
	if _, err := (Load{Clients: 1}).Run(context.Background(), nil); !errors.Is(err, ErrUnbounded) {
		t.Fatalf("unbounded load: %v", err)
	}
}

func TestMemSampler(t *testing.T) {
	m := StartMemSampler(time.Millisecond)
	var keep [][]byte
	for range 8 {
		keep = append(keep, make([]byte, 1<<20))
		time.Sleep(3 * time.Millisecond)
	}
	p := m.Stop()
	_ = keep
	if p.PeakHeap < p.BaseHeap || p.PeakHeap == 0 || p.PeakSys == 0 || p.Samples < 2 {
		t.Fatalf("peaks %+v", p)
	}
	if p.HeapGrowth() < 4<<20 {
		t.Errorf("8 MiB allocated and kept, heap growth seen %d", p.HeapGrowth())
	}
	if rss, err := ProcPeakRSS(0); err == nil && rss == 0 {
		t.Error("VmHWM of pid 0 read as 0")
	}
}

func TestProcStatus(t *testing.T) {
	rss, err := ProcRSS(1)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if rss == 0 {
		t.Error("VmRSS of pid 1 is 0")
	}
	if _, err := procStatusField(1, "NoSuchField:"); err == nil {
		t.Error("a missing field must be an error")
	}
}

func TestVerifyHandler(t *testing.T) {
	h := &VerifyHandler{Secrets: map[string]string{"k": "s"}}
	good := SignedBody(map[string]string{"applyno": "A1"}, "k", "s", time.Now())
	bad := SignedBody(map[string]string{"applyno": "A1"}, "k", "wrong", time.Now())
	for _, tt := range []struct {
		body []byte
		want string
	}{
		{good, `"code":1`},
		{bad, "sign mismatch"},
		{[]byte(`[]`), `"code":0`},
		{SignedBody(nil, "other", "s", time.Now()), "unknown appkey"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/baohannotice", strings.NewReader(string(tt.body))))
		if !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: answer %s, want %s", tt.body, rec.Body, tt.want)
		}
	}
	if ok, bad := h.Counts(); ok != 1 || bad != 3 {
		t.Errorf("counts %d ok, %d refused", ok, bad)
	}
}

func TestCryptoCeiling(t *testing.T) {
	key, iv := make([]byte, 16), make([]byte, 16)
	ct := encryptForTest(t, make([]byte, 100<<10), key, iv)
	res, err := CryptoCeiling(context.Background(), ct, key, iv, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 2*100<<10 || res.BytesPerSec() <= 0 {
		t.Fatalf("%+v", res)
	}
	if _, err := CryptoCeiling(context.Background(), ct[:len(ct)-1], key, iv, 1, 0); err == nil {
		t.Fatal("truncated ciphertext decrypted")
	}
}

func TestParseOptions(t *testing.T) {
	o := Options{Quick: true}.withDefaults()
	if len(o.Scenarios) != 5 || len(o.DBs) != 2 || o.Clients != 64 || len(o.Sizes) != 2 || o.Guarantees != 500 || o.Pickups != 50 {
		t.Fatalf("quick defaults %+v", o)
	}
	// Scenario 2's sizes, quick and full, are whole multiples of its
	// chunk, so its flat-heap comparison does not mix chunk sizes.
	if o.Sizes[0] != 1<<20 || o.Sizes[1] != 4<<20 {
		t.Errorf("quick sizes %v, want 1 MiB and 4 MiB", o.Sizes)
	}
	for _, quick := range []bool{true, false} {
		for _, size := range (Options{Quick: quick}).withDefaults().Sizes {
			if size%chunk.DefaultSize != 0 {
				t.Errorf("default size %d (quick %v) is not a whole multiple of the %d-byte chunk", size, quick, chunk.DefaultSize)
			}
		}
	}
	if err := (Options{Scenarios: []int{6}, DBs: []string{"mysql"}, Sizes: []int64{1}}).Check(); err == nil ||
		!strings.Contains(err.Error(), "scenario 6") || !strings.Contains(err.Error(), "mysql") || !strings.Contains(err.Error(), "size 1") {
		t.Fatalf("Check: %v", err)
	}
	if got := insertSuffix("/tmp/cpu.pprof", "s1-sqlite"); got != "/tmp/cpu.s1-sqlite.pprof" {
		t.Errorf("insertSuffix: %s", got)
	}
	if got := redactURL("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("redactURL: %s", got)
	}
}
