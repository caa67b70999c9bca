// Package harness starts baohan's platform and institution in one
// process for the demo, the benchmarks, the browser tests and every
// cross-package test: each service behind a Door (a listener on
// 127.0.0.1 whose URL outlives restarts of the service, which records
// every exchange, tells observers and injects faults), wired to each
// other over HTTP, with one PKI (pki's CA, the institution's seal, the
// bidder), one Clock both services read, and optionally the web
// consoles and the bidder's CA agent. Bidder plays the bidder at the
// institution's pages (in process or through the agent), Peer plays a
// hand-driven peer, FakePeer answers for a peer that is not there.
//
// New starts a System and returns errors; Start does it for a test (in
// its temporary directory, stopped at its cleanup). Options say what
// differs from the defaults: the databases (SQLite in the data
// directory, or PostgreSQL URLs), the peers' dialect and chunk size,
// configuration edits, TLS, consoles, logs.
//
//	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(1024))
//	applyNo := s.Issued(s.Section(time.Hour).No, 10*time.Second)
//
// NewSide starts one service alone, facing someone else's
// implementation of the other side.
package harness
