package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDemoRunsEveryScenario(t *testing.T) {
	ctx := context.Background()
	sys, err := Start(ctx, Options{Dir: t.TempDir(), Consoles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	var progress, exchanges bytes.Buffer
	res, err := Run(ctx, sys, RunOptions{Progress: &progress, Exchanges: &exchanges, OpeningDelay: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	if testing.Verbose() {
		os.Stderr.Write(progress.Bytes())
		os.Stderr.Write(exchanges.Bytes())
		os.Stderr.Write(sum.Bytes())
	}
	if !res.OK {
		t.Fatalf("the demo failed:\n%s\n%s", progress.String(), sum.String())
	}
	if !strings.Contains(sum.String(), "interfaces used: 16/16 (14 + 2 optional)") {
		t.Errorf("summary: %s", sum.String())
	}
}
