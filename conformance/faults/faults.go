// Package faults breaks a conforming peer on purpose, as http middleware,
// to prove that the conformance kit catches each fault with the right
// check. Each fault imitates a mistake integrators make.
package faults

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// readFields reads the request body and parses it; ok is false when it is
// not a flat JSON object (the body is still restored).
func readFields(r *http.Request) (body []byte, req *protocol.Request, ok bool) {
	body, _ = io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	req, err := protocol.ParseRequest(body)
	return body, req, err == nil
}

// replace puts a new body on r.
func replace(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}

func iface(r *http.Request) protocol.Interface {
	return protocol.Interface(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
}

// protocolCall reports whether r is a call of one of the 14 interfaces
// (the faults leave a service's other pages alone).
func protocolCall(r *http.Request) bool {
	_, ok := protocol.Lookup(string(iface(r)))
	return ok && r.Method == http.MethodPost
}

// resign signs fields again with secret.
func resign(fields map[string]string, secret string) []byte {
	f := make(map[string]string, len(fields))
	for k, v := range fields {
		f[k] = v
	}
	delete(f, protocol.SignField)
	f[protocol.SignField] = protocol.Sign(f, secret)
	return protocol.MarshalFields(f)
}

// SkipSign makes the peer accept any sign: every request is signed again
// with the right secret before it reaches the peer, as if the peer did
// not check. (A missing sign is added too.)
func SkipSign(secret string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !protocolCall(r) {
				next.ServeHTTP(w, r)
				return
			}
			if _, req, ok := readFields(r); ok {
				replace(r, resign(req.Fields, secret))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// AcceptStale makes the peer accept timestamps outside its window: a
// well-formed timestamp more than window from now is replaced by now and
// the request signed again.
func AcceptStale(secret string, window time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !protocolCall(r) {
				next.ServeHTTP(w, r)
				return
			}
			if _, req, ok := readFields(r); ok {
				if ts, err := protocol.ParseTime(req.Get("timestamp")); err == nil {
					if d := time.Since(ts); d > window || -d > window {
						f := req.Fields
						f["timestamp"] = protocol.FormatTime(time.Now())
						replace(r, resign(f, secret))
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// AcceptConflictingChunk makes the peer answer code 1 to a chunk sent
// again with different bytes (the first bytes are kept, silently).
func AcceptConflictingChunk() Middleware {
	var mu sync.Mutex
	seen := map[string][32]byte{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if iface(r) == protocol.UploadBaohanFile {
				if _, req, ok := readFields(r); ok {
					key := req.Get("applyno") + "|" + req.Get("baohanno") + "|" + req.Get("filetype") + "|" + req.Get("index")
					sum := sha256.Sum256([]byte(req.Get("baohanfile")))
					mu.Lock()
					old, dup := seen[key]
					if !dup {
						seen[key] = sum
					}
					mu.Unlock()
					if dup && old != sum {
						w.Header().Set("Content-Type", "application/json")
						w.Write(protocol.OK(nil).Marshal())
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// NonJSONErrors makes the peer answer a body that is not a JSON object
// with an HTML error page and HTTP 400, as many web frameworks do.
func NonJSONErrors() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !protocolCall(r) {
				next.ServeHTTP(w, r)
				return
			}
			if _, _, ok := readFields(r); !ok {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, "<html><body><h1>400 Bad Request</h1></body></html>")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Mangle changes the fields of the requests passing through and signs
// them again: put it in front of the kit to make the peer's outgoing
// calls wrong (mis-numbered chunks, a wrong digest) while still signed.
// fn returns false to leave a request alone.
func Mangle(secret string, fn func(i protocol.Interface, fields map[string]string) bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !protocolCall(r) {
				next.ServeHTTP(w, r)
				return
			}
			if _, req, ok := readFields(r); ok && fn(iface(r), req.Fields) {
				replace(r, resign(req.Fields, secret))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ShiftChunkIndexes numbers the chunks from 2 instead of 1 (or 1 instead
// of 0): the first index goes missing.
func ShiftChunkIndexes(secret string) Middleware {
	return Mangle(secret, func(i protocol.Interface, f map[string]string) bool {
		if i != protocol.UploadBaohanFile {
			return false
		}
		f["index"] = incr(f["index"])
		return true
	})
}

// WrongDigest changes one hex digit of baohanfilemd5.
func WrongDigest(secret string) Middleware {
	return Mangle(secret, func(i protocol.Interface, f map[string]string) bool {
		if i != protocol.BaohanFileCompleteNotice || f["baohanfilemd5"] == "" {
			return false
		}
		d := []byte(f["baohanfilemd5"])
		if d[0] == '0' {
			d[0] = '1'
		} else {
			d[0] = '0'
		}
		f["baohanfilemd5"] = string(d)
		return true
	})
}

// incr adds one to a decimal string.
func incr(s string) string {
	b := []byte(s)
	for k := len(b) - 1; k >= 0; k-- {
		if b[k] < '0' || b[k] > '9' {
			return s
		}
		if b[k] < '9' {
			b[k]++
			return string(b)
		}
		b[k] = '0'
	}
	return "1" + string(b)
}
