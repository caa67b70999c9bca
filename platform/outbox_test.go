package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

func answerRefuse(msg string) func(map[string]string) (any, error) {
	return func(map[string]string) (any, error) { return nil, baohan.Refusef("%s", msg) }
}

// TestAnswersDecide: the institution's code 1 or 0 to a call is applied
// as its decision.
func TestAnswersDecide(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)

		t.Run("giveupapply refused keeps the state", func(t *testing.T) {
			e := e.with(t)
			a := e.applied(e.section(time.Hour))
			// The institution holds its refusal until the second
			// giveupapply has been tried: answered at once, the first
			// could be refused (and no longer pending) before it.
			release := e.inst.holdAnswer(t, protocol.GiveupApply, answerRefuse("保函已出具，不可放弃"))
			if _, err := e.svc.GiveUp(e.ctx, a.ApplyNo, "不投了"); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.GiveUp(e.ctx, a.ApplyNo, "again")
			var te *TransitionError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), "giveupapply is still waiting for the institution's answer") {
				t.Fatalf("a second giveupapply while one is pending: %v", err)
			}
			release()
			e.settle()
			got := e.app(a.ApplyNo)
			if got.State != Applied || got.Pending != "" || got.LastMessage != "giveupapply refused: 保函已出具，不可放弃" {
				t.Fatalf("after the refusal: state %s, pending %q, last %q", got.State, got.Pending, got.LastMessage)
			}
			e.inst.setAnswer(protocol.GiveupApply, nil)
			if _, err := e.svc.GiveUp(e.ctx, a.ApplyNo, "不投了"); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.wantState(a.ApplyNo, GivenUp)
			if n := len(e.inst.received(protocol.GiveupApply, a.ApplyNo)); n != 2 {
				t.Errorf("%d giveupapply calls, want 2", n)
			}
		})

		t.Run("concurrent giveupapply: one is accepted", func(t *testing.T) {
			e := e.with(t)
			a := e.applied(e.section(time.Hour))
			release := e.inst.holdAnswer(t, protocol.GiveupApply, answerRefuse("保函已出具，不可放弃"))
			defer e.inst.setAnswer(protocol.GiveupApply, nil)
			const n = 8
			errs := make(chan error, n)
			start := make(chan struct{})
			for i := range n {
				go func() {
					<-start
					_, err := e.svc.GiveUp(e.ctx, a.ApplyNo, fmt.Sprintf("reason %d", i))
					errs <- err
				}()
			}
			close(start)
			accepted := 0
			for range n {
				err := <-errs
				var te *TransitionError
				switch {
				case err == nil:
					accepted++
				case !errors.As(err, &te) || !strings.Contains(err.Error(), "giveupapply is still waiting for the institution's answer"):
					t.Errorf("GiveUp: %v", err)
				}
			}
			if accepted != 1 {
				t.Fatalf("%d of %d concurrent giveupapply accepted, want 1", accepted, n)
			}
			ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo, Interface: string(protocol.GiveupApply)})
			if err != nil || len(ms) != 1 {
				t.Fatalf("giveupapply in the outbox: %d, %v; want 1", len(ms), err)
			}
			release()
			e.settle()
			got := e.app(a.ApplyNo)
			if got.State != Applied || got.Pending != "" || len(e.inst.received(protocol.GiveupApply, a.ApplyNo)) != 1 {
				t.Fatalf("after the refusal: state %s, pending %q, %d calls", got.State, got.Pending, len(e.inst.received(protocol.GiveupApply, a.ApplyNo)))
			}
		})

		t.Run("giveupapply only before a success notice", func(t *testing.T) {
			e := e.with(t)
			a, _ := e.approved(e.section(time.Hour))
			_, err := e.svc.GiveUp(e.ctx, a.ApplyNo, "x")
			if err == nil || err.Error() != fmt.Sprintf("applyno %s is approved (审核通过): giveupapply (放弃申请) is not allowed in this state; giving up is only possible before a success notice", a.ApplyNo) {
				t.Fatalf("err = %v", err)
			}
			e.giveupCleanup(a.ApplyNo)
		})

		t.Run("baohanapply refused rejects", func(t *testing.T) {
			e := e.with(t)
			e.inst.setAnswer(protocol.BaohanApply, answerRefuse("投标人不在白名单"))
			defer e.inst.setAnswer(protocol.BaohanApply, nil)
			e.bidder(e.pki.bidder)
			a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: e.section(time.Hour).No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
			if err != nil {
				t.Fatal(err)
			}
			e.settle()
			got := e.app(a.ApplyNo)
			if got.State != Rejected || got.LastMessage != "baohanapply refused: 投标人不在白名单" {
				t.Fatalf("state %s, last %q", got.State, got.LastMessage)
			}
		})

		t.Run("quitapply refused returns", func(t *testing.T) {
			e := e.with(t)
			a, _ := e.withCipher(e.section(time.Hour))
			e.inst.setAnswer(protocol.QuitApply, answerRefuse("不支持线上退保"))
			defer e.inst.setAnswer(protocol.QuitApply, nil)
			if _, err := e.svc.Quit(e.ctx, a.ApplyNo, "不投了"); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.wantState(a.ApplyNo, CipherReceived)
			e.giveupCleanup(a.ApplyNo)
		})

		t.Run("cancel", func(t *testing.T) {
			e := e.with(t)
			a, _ := e.approved(e.section(time.Hour))
			e.inst.setAnswer(protocol.CancelNotice, answerRefuse("注销须线下办理"))
			if _, err := e.svc.Cancel(e.ctx, a.ApplyNo, "项目终止"); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.wantState(a.ApplyNo, Approved)
			e.inst.setAnswer(protocol.CancelNotice, nil)
			if _, err := e.svc.Cancel(e.ctx, a.ApplyNo, "项目终止"); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.wantState(a.ApplyNo, Cancelled)
			c := e.inst.received(protocol.CancelNotice, a.ApplyNo)
			if len(c) != 2 || c[1].Fields["baohanno"] == "" || c[1].Fields["platformcode"] != testPlatform {
				t.Fatalf("canclenotice calls %v", c)
			}
		})

		t.Run("claim", func(t *testing.T) {
			e := e.with(t)
			sec := e.section(time.Hour)
			a, _ := e.withCipher(sec)
			in := ClaimInput{PayerAccount: "6222000011112222", PayerAmount: decimal.RequireFromString("200000"), ApplyUserName: "张三",
				ApplyUserPhone: "13800000000", Reason: "中标后拒签合同", FileList: []string{"https://agent.example.cn/claim/1.pdf", "https://agent.example.cn/claim/2.pdf"}}
			bad := in
			bad.PayerAmount = decimal.RequireFromString("200000.01")
			if _, err := e.svc.Claim(e.ctx, a.ApplyNo, bad); err == nil || err.Error() != "payeramount: 赔付金额 200000.01 exceeds the guaranteed amount 200000.00" {
				t.Fatalf("claim over the bond: %v", err)
			}
			if _, err := e.svc.Claim(e.ctx, a.ApplyNo, in); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.wantState(a.ApplyNo, Claimed)
			c := e.inst.received(protocol.ClaimsNotice, a.ApplyNo)
			if len(c) != 1 || c[0].Fields["filelist"] != `[{"fileurl":"https://agent.example.cn/claim/1.pdf"},{"fileurl":"https://agent.example.cn/claim/2.pdf"}]` ||
				c[0].Fields["payeramount"] != "200000.00" || c[0].Fields["applyusername"] != "张三" {
				t.Fatalf("claimsnotice %v", c)
			}
		})

		t.Run("unsupported canclenotice is recorded locally", func(t *testing.T) {
			e := e.with(t)
			e.svc.cfg.Institutions[0].NoCancel = true
			defer func() { e.svc.cfg.Institutions[0].NoCancel = false }()
			a, _ := e.approved(e.section(time.Hour))
			before := len(e.inst.received(protocol.CancelNotice, ""))
			if _, err := e.svc.Cancel(e.ctx, a.ApplyNo, "x"); err != nil {
				t.Fatal(err)
			}
			e.wantState(a.ApplyNo, Cancelled)
			e.settle()
			if n := len(e.inst.received(protocol.CancelNotice, "")); n != before {
				t.Fatal("canclenotice sent to an institution that does not serve it")
			}
		})
	})
}

// TestDeliveryRetries: the institution is down (503), then answers
// garbage, then comes up: the call is delivered exactly once.
func TestDeliveryRetries(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.inst.setDown(true)
		e.bidder(e.pki.bidder)
		a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: e.section(time.Hour).No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		msg := func() store.OutMessage {
			ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo, Interface: "baohanapply"})
			if err != nil || len(ms) != 1 {
				t.Fatalf("outbox %v %v", ms, err)
			}
			return ms[0]
		}
		// The failed exchanges are in the message log.
		failed := func() int {
			rows, err := e.svc.MessageLog().List(e.ctx, store.LogFilter{ApplyNo: a.ApplyNo, Interface: "baohanapply"})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range rows {
				if r.HTTPStatus == http.StatusServiceUnavailable {
					n++
				}
			}
			return n
		}
		// Attempts counts claims: it is 3 as soon as the third attempt is
		// claimed, before its request is sent. Wait for three answered
		// attempts, so that the institution comes up after them.
		e.eventually("three failed attempts", func() bool { return failed() >= 3 })
		if m := msg(); m.Attempts < 3 || m.State != store.StateFailed && m.State != store.StateDelivering || m.LastError == "" {
			t.Fatalf("message %+v", m)
		}
		e.wantState(a.ApplyNo, Applied)
		e.inst.setDown(false)
		e.eventually("delivery", func() bool { return msg().State == store.StateDone })
		if n := len(e.inst.received(protocol.BaohanApply, a.ApplyNo)); n != 1 {
			t.Fatalf("the institution got baohanapply %d times, want once", n)
		}
		if got := e.app(a.ApplyNo); got.RedirectURL == "" {
			t.Fatalf("answer not applied: %+v", got)
		}
		if m := msg(); m.Attempts != failed()+1 {
			t.Errorf("%d attempts, %d failed exchanges logged and one delivery", m.Attempts, failed())
		}
	})
}

// TestDeliveryGarbage: an answer that is not the protocol's JSON is
// retried, not taken as a decision.
func TestDeliveryGarbage(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.inst.mu.Lock()
		e.inst.garbage = 2
		e.inst.mu.Unlock()
		a := e.applied(e.section(time.Hour))
		if a.State != Applied || len(e.inst.received(protocol.BaohanApply, a.ApplyNo)) != 1 {
			t.Fatalf("state %s, %d received", a.State, len(e.inst.received(protocol.BaohanApply, a.ApplyNo)))
		}
		ms, _ := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo})
		if len(ms) != 1 || ms[0].Attempts != 3 {
			t.Fatalf("outbox %+v", ms)
		}
	})
}

// TestDeliveryAfterRestart: the process stops with a call pending; on
// restart against the same database the call goes out, once.
func TestDeliveryAfterRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.inst.setDown(true)
		e.bidder(e.pki.bidder)
		sec := e.section(time.Hour)
		a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.eventually("a failed attempt", func() bool {
			ms, _ := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo})
			return len(ms) == 1 && ms[0].Attempts >= 1
		})
		e.close()
		e.inst.setDown(false)
		time.Sleep(50 * time.Millisecond)
		if n := len(e.inst.received(protocol.BaohanApply, "")); n != 0 {
			t.Fatalf("%d deliveries while stopped", n)
		}
		e.start()
		e.eventually("the delivery after restart", func() bool { return e.app(a.ApplyNo).RedirectURL != "" })
		e.settle()
		if n := len(e.inst.received(protocol.BaohanApply, a.ApplyNo)); n != 1 {
			t.Fatalf("%d deliveries, want 1", n)
		}
	})
}

// TestTwoPlatformsOnePostgres runs two platform services on one
// PostgreSQL database: every call is delivered exactly once.
func TestTwoPlatformsOnePostgres(t *testing.T) {
	dbURL := storetest.FreshSchema(t)
	e := newEnv(t, dbURL)
	// The institution is slow, so that both dispatchers are busy at once.
	e.inst.setAnswer(protocol.BaohanApply, func(f map[string]string) (any, error) {
		time.Sleep(15 * time.Millisecond)
		return protocol.ApplyResult{RedirectURL: "https://bank.example.cn/r/" + f["applyno"]}, nil
	})
	second, err := New(e.ctx, e.cfg, WithClock(e.clock.Now), WithLogger(testLogger()), WithDispatcherOwner("second"),
		WithBackoff(store.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); second.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	const n = 40
	var nos []string
	for i := range n {
		code := testca.GenerateCreditCode()
		id, err := e.pki.ca.Issue(fmt.Sprintf("投标人%02d有限公司", i), testca.Bidder, testca.WithCreditCode(code))
		if err != nil {
			t.Fatal(err)
		}
		svc := e.svc
		if i%2 == 1 {
			svc = second
		}
		if _, err := svc.RegisterBidder(e.ctx, BidderInput{Name: id.Name, CreditCode: code, CertPEM: string(id.CertPEM)}); err != nil {
			t.Fatal(err)
		}
		a, err := svc.Apply(e.ctx, ApplyInput{SectionNo: e.section(time.Hour).No, BidderCode: code, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		nos = append(nos, a.ApplyNo)
	}
	e.eventually("every delivery", func() bool {
		for _, no := range nos {
			if e.app(no).RedirectURL == "" {
				second.disp.Kick()
				return false
			}
		}
		return true
	})
	for _, no := range nos {
		if c := len(e.inst.received(protocol.BaohanApply, no)); c != 1 {
			t.Errorf("%s delivered %d times", no, c)
		}
	}
	t.Logf("%d calls delivered once each by two services", n)
}

// TestDeliveryDeadThenRetried: with a bounded number of attempts a call
// to an institution that stays down ends dead, visible in the history
// and the outbox; an operator's retry delivers it.
func TestDeliveryDeadThenRetried(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.close()
		e.start(WithBackoff(store.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 2, Jitter: -1}))
		e.inst.setDown(true)
		e.bidder(e.pki.bidder)
		a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: e.section(time.Hour).No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		var dead []store.OutMessage
		e.eventually("the dead call", func() bool {
			dead, _ = e.svc.db.OutboxList(e.ctx, store.OutboxFilter{State: store.StateDead, ApplyNo: a.ApplyNo})
			return len(dead) == 1
		})
		got := e.app(a.ApplyNo)
		if got.State != Applied || !strings.HasPrefix(got.LastMessage, "baohanapply could not be delivered: gave up after 2 attempts: ") {
			t.Fatalf("state %s, last %q", got.State, got.LastMessage)
		}
		h, _ := e.svc.History(e.ctx, a.ApplyNo)
		if h[len(h)-1].Event != EvDeliveryDead {
			t.Errorf("last event %s", h[len(h)-1].Event)
		}
		e.inst.setDown(false)
		if code, b := e.admin("POST", fmt.Sprintf("/api/outbox/%d/retry", dead[0].ID), nil); code != 200 {
			t.Fatalf("retry: %d %s", code, b)
		}
		e.eventually("the delivery", func() bool { return e.app(a.ApplyNo).RedirectURL != "" })
	})
}
