package platform

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

// withSealCheck replaces the seal verification (which reads the OFD
// package into memory, bounded by ofd.DefaultLimits) so that a benchmark
// measures the streaming path alone: assembling the chunks from the blob
// store, decrypting SM4-CBC, digesting and storing the plaintext.
func withSealCheck(fn func(ctx context.Context, blob string, size int64) (bool, []byte, string, error)) Option {
	return service.Own(sealFunc(fn))
}

// peakHeap samples HeapAlloc while fn runs and returns the peak above the
// heap in use before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	p := max(peak.Load(), ms.HeapAlloc)
	if p < base {
		return 0
	}
	return p - base
}

// BenchmarkCompleteNotice times baohanfilecompletenotice over HTTP for a
// 1 MB and a 20 MB file uploaded in 512 KiB chunks, and reports the peak
// heap growth while it runs: it stays flat as the file grows, because the
// file is streamed (blob store → SM4-CBC → digest → blob store), never
// held whole. cpu-ms/op is the process's CPU time per completion.
//
//	go test ./platform -run - -bench CompleteNotice -benchtime 3x
func BenchmarkCompleteNotice(b *testing.B) {
	for _, size := range []int{1 << 20, 20 << 20} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			e := newEnv(b, "", func(c *Config) { c.Institutions[0].ChunkSize = 512 << 10 })
			e.close()
			e.start(withSealCheck(func(context.Context, string, int64) (bool, []byte, string, error) {
				return true, []byte(`{"ok":true,"stub":"benchmark"}`), "", nil
			}))
			doc := make([]byte, size)
			rand.Read(doc)
			u := upload{skip: -1, indexBase: 1, chunkSize: 512 << 10}
			var peak uint64
			var cpu time.Duration
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sec := e.section(time.Hour)
				a, bn := e.approved(sec)
				enc := e.encrypt(a.ApplyNo, doc, u)
				e.sendChunks(a.ApplyNo, bn, "1", enc, u)
				var r *protocol.Response
				b.StartTimer()
				c0 := processCPU()
				p := peakHeap(func() { r = e.complete(a.ApplyNo, bn, "1", enc, u) })
				cpu += processCPU() - c0
				b.StopTimer()
				wantOK(b, "complete", r)
				peak = max(peak, p)
				e.giveupCleanup(a.ApplyNo)
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkCompleteNoticeSealed is BenchmarkCompleteNotice with the real
// seal check: the file is a sealed OFD guarantee (an attachment pads it
// to the size) verified against the trust roots. The seal check opens the
// blob lazily and hashes the large entries as a stream, so the peak heap
// stays flat as the file grows.
//
//	go test ./platform -run - -bench CompleteNoticeSealed -benchtime 3x
func BenchmarkCompleteNoticeSealed(b *testing.B) {
	for _, size := range []int{1 << 20, 20 << 20} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			e := newEnv(b, "", func(c *Config) { c.Institutions[0].ChunkSize = 512 << 10 })
			u := upload{skip: -1, indexBase: 1, chunkSize: 512 << 10}
			var peak uint64
			var cpu time.Duration
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sec := e.section(time.Hour)
				a, bn := e.approved(sec)
				// Each application's guarantee names it.
				doc := guaranteeOFD(b, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, extra: size})
				enc := e.encrypt(a.ApplyNo, doc, u)
				e.sendChunks(a.ApplyNo, bn, "1", enc, u)
				var r *protocol.Response
				b.StartTimer()
				c0 := processCPU()
				p := peakHeap(func() { r = e.complete(a.ApplyNo, bn, "1", enc, u) })
				cpu += processCPU() - c0
				b.StopTimer()
				wantOK(b, "complete", r)
				peak = max(peak, p)
				e.giveupCleanup(a.ApplyNo)
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkUploadChunk times uploadbaohanfile of one 512 KiB chunk over
// HTTP on SQLite, with the chunk blobs in a directory and in the
// database: parse, check the sign, decode the base64, digest, store the
// blob, record the chunk, log the exchange. The bodies are signed before
// the clock starts, so the time is the platform's (and the loopback's);
// cpu-ms/op is the process's CPU time per chunk, steadier than the time
// on a shared machine.
//
//	go test ./platform -run - -bench UploadChunk -benchmem
func BenchmarkUploadChunk(b *testing.B) {
	const chunkSize, perFile = 512 << 10, 32
	for _, blobs := range []string{"dir", "db"} {
		b.Run(blobs, func(b *testing.B) {
			e := newEnv(b, "", func(c *Config) {
				c.Institutions[0].ChunkSize, c.Institutions[0].MaxChunkSize, c.Storage.Blobs = chunkSize, chunkSize, blobs
			})
			raw := make([]byte, chunkSize)
			var bodies [][]byte
			next := func() {
				a, bn := e.approved(e.section(time.Hour))
				bodies = bodies[:0]
				for i := range perFile {
					rand.Read(raw)
					bodies = append(bodies, e.signed(map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1",
						"index": strconv.Itoa(i + 1), "baohanfile": b64(raw)}, testAppSecret))
				}
			}
			var cpu time.Duration
			b.SetBytes(chunkSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%perFile == 0 {
					b.StopTimer()
					next()
					b.StartTimer()
				}
				c0 := processCPU()
				wantOK(b, "uploadbaohanfile", e.sendRaw(protocol.UploadBaohanFile, bodies[i%perFile]))
				cpu += processCPU() - c0
			}
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
