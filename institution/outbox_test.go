package institution

import (
	"sync"
	"testing"
)

// chunkCount is the number of chunks the complete notice announced.
func (e *env) chunkCount(applyNo string) int {
	e.t.Helper()
	f := e.plat.lastWhere("baohanfilecompletenotice", applyNo)
	n := 0
	for _, c := range f["bak1"] {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestPlatformDownThenUp(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			tok := e.apply("D-1", "200000")
			e.openAndSign(tok)
			e.plat.down.Store(true)
			e.pay(tok)
			// Deliveries fail and are retried while the platform is down.
			e.waitFor("failed attempts", func() bool {
				return e.svc.metrics.outboundCount("baohannotice", "error") >= 3
			})
			if e.plat.count("baohannotice") != 0 {
				t.Fatal("delivered while down")
			}
			e.plat.down.Store(false)
			e.waitState("D-1", Issued)
			n := e.chunkCount("D-1")
			max, distinct := e.plat.maxChunkCalls("D-1", 1)
			if n < 2 || distinct != n || max != 1 {
				t.Errorf("%d chunks announced, %d distinct received, most often %d times", n, distinct, max)
			}
			for _, i := range []string{"baohannotice", "downloadpublickey", "baohanfilecompletenotice"} {
				if c := e.plat.count(i); c != 1 {
					t.Errorf("%s arrived %d times", i, c)
				}
			}
		})
	}
}

func TestCloseMidUploadResumes(t *testing.T) {
	e := newEnv(t, false)
	tok := e.apply("C-1", "200000")
	e.openAndSign(tok)
	var once sync.Once
	stopped := make(chan struct{})
	e.plat.setOnChunk(func(applyNo string, index int) bool {
		if index < 3 {
			return true
		}
		once.Do(func() { close(stopped) })
		return false // the connection breaks while chunk 3 is sent
	})
	e.pay(tok)
	<-stopped
	e.stop()
	max, distinct := e.plat.maxChunkCalls("C-1", 1)
	if distinct != 2 || max != 1 {
		t.Fatalf("before the restart: %d chunks received, most often %d times", distinct, max)
	}
	if s := e.app2("C-1"); s == Issued {
		t.Fatal("issued without all chunks")
	}
	e.plat.setOnChunk(nil)
	e.start()
	e.waitState("C-1", Issued)
	n := e.chunkCount("C-1")
	max, distinct = e.plat.maxChunkCalls("C-1", 1)
	if distinct != n || max != 1 {
		t.Errorf("after the restart: %d chunks announced, %d received, most often %d times", n, distinct, max)
	}
	if c := e.plat.count("downloadpublickey"); c != 1 {
		t.Errorf("public key fetched %d times", c)
	}
}
