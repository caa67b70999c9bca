package transport

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
)

func TestFileFetcher(t *testing.T) {
	voucher := []byte("%PDF-1.4 transfer voucher")
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(voucher) }))
	defer other.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/voucher.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(voucher)
		case "/big":
			w.Write(make([]byte, 2048))
		case "/moved":
			http.Redirect(w, r, "/voucher.pdf", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/voucher.pdf", http.StatusFound)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := sm3.Sum(voucher)
	want := hex.EncodeToString(sum[:])
	// The test servers listen on loopback: AllowPrivate (TestFetchAddresses
	// shows the default refuses them).
	f := &FileFetcher{Client: srv.Client(), MaxSize: 1024, AllowPrivate: true}
	tests := []struct {
		name, url, err string
		permanent      bool
	}{
		{"fetched", srv.URL + "/voucher.pdf", "", false},
		{"same-host redirect", srv.URL + "/moved", "", false},
		{"oversize", srv.URL + "/big", "over the limit of 1024", true},
		{"other host", srv.URL + "/away", "redirect to another host", true},
		{"not found", srv.URL + "/nothing", "404", true},
		{"server down", srv.URL + "/down", "503", false},
		{"plain http", strings.Replace(srv.URL, "https", "http", 1) + "/voucher.pdf", "https only", true},
		{"file scheme", "file:///etc/passwd", "scheme", true},
		{"credentials", "https://u:p@" + strings.TrimPrefix(srv.URL, "https://") + "/voucher.pdf", "credentials", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Fetch(context.Background(), tt.url)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.SM3 != want || string(got.Data) != string(voucher) {
					t.Fatalf("got %s %q, want %s", got.SM3, got.Data, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if Permanent(err) != tt.permanent {
				t.Fatalf("Permanent(%v) = %v, want %v", err, Permanent(err), tt.permanent)
			}
		})
	}
}
