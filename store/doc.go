// Package store is the storage layer shared by the platform and the
// institution services: it opens SQLite or PostgreSQL by URL, runs goose
// migrations, runs transactions with retries, and keeps the tables both
// services need in the same shape: the outbox, the message log, the seen
// signs and the blobs. Each service keeps its own tables and migrations
// (DB.Migrate with its own version table); the shared tables come from
// this package's embedded migrations (DB.MigrateShared, version table
// goose_store), which Open applies, so a service never has to.
//
// # Databases
//
// Open("", dataDir) is a SQLite file in the data directory
// (modernc.org/sqlite, pure Go: CGO_ENABLED=0 builds). "postgres://..." is
// PostgreSQL through pgx. The SQL is written once with "?" placeholders and
// runs on both (ON CONFLICT, RETURNING, partial indexes); DB.Rebind turns
// the placeholders into $n on PostgreSQL, and Dialect has the few helpers
// where the two differ (blob type, identity column, current time). Times
// in the shared tables are Unix microseconds in BIGINT columns: one
// encoding, exact comparisons, and the Go clock (injectable in tests)
// decides "now", not the database server.
//
// SQLite runs in WAL mode (readers never block the writer, nor it them),
// with busy_timeout, foreign_keys and synchronous=NORMAL (a commit survives
// a process crash; a power cut may lose the last transactions, never
// corrupt the file). SQLite has one writer at a time, so DB keeps two
// pools: the embedded *sql.DB for reads and single statements, and a pool
// of exactly one connection for write transactions (InTx). Writers of one
// process then queue in Go, in order, instead of polling SQLite's lock;
// every read-write transaction starts with BEGIN IMMEDIATE, so it takes
// the write lock before reading and never fails half way with a lock
// upgrade error; and when another process holds the lock, busy_timeout
// waits and InTx retries SQLITE_BUSY with jittered backoff. Measured on
// two cores with 32 goroutines committing small transactions
// (BenchmarkSQLiteWriters): about 31µs a commit through the writer pool,
// 37µs through an 8-connection pool relying on busy_timeout, and no
// "database is locked" either way. When several write transactions wait
// for the writer, the first runs them all in one SQLite transaction, each
// in its own savepoint (grouptx.go): equivalent to running them one after
// the other, one BEGIN and one COMMIT for all; with 32 goroutines, 5.8µs a
// transaction instead of 22.7µs (BenchmarkSQLiteGroupTx). Each SQLite connection keeps its
// prepared statements by SQL text (stmtcache.go), so the services' short,
// repeated statements are parsed once per connection, not on every call
// (parsing was a quarter of the write path's CPU). On PostgreSQL, InTx retries
// serialization failures and deadlocks; fn must therefore be safe to run
// again, doing its effects through tx only.
//
// # Outbox: nothing lost
//
// A service changes its state and enqueues the message that tells the
// peer in one transaction (Enqueue takes the caller's *sql.Tx): both
// commit or neither does. A crash after the commit loses nothing, because
// the message is in the table; a crash before it sends nothing, because
// there is no state change to announce. Each message has a DedupeKey
// (unique), so code that enqueues the same notice twice, on a retried
// transaction or a repeated request, leaves one message.
//
// A Dispatcher delivers the outbox. It claims due messages by setting a
// lease on them (state delivering, lease_owner, lease_until) and delivers
// them outside any transaction; then, in one short transaction, it records
// the outcome and runs the service's OnOutcome hook, so applying the
// peer's answer and completing the delivery are atomic too. Failures
// (transport errors, timeouts, HTTP 5xx, answers that are not JSON) are
// retried with exponential backoff and jitter, 1s, 2s, 4s, ... up to 5
// minutes; after MaxAttempts the message is dead and stays visible for an
// operator, who can requeue it (DB.OutboxRetry).
//
// The workers are shared by every peer, with a limit per peer (PerPeer,
// default half the workers): a peer that times out holds at most its
// limit while the others' messages are due, and its other messages stay
// unclaimed (no attempt spent). When nothing of the peers below their
// limit is due, the idle workers are lent to the peers at it, so the
// limit never leaves a worker idle with work waiting.
//
// Why leases: a claim is not a lock held by a connection or a transaction,
// which would have to stay open across a network call of unknown length.
// A lease is data: it survives the claiming process's crash and simply
// expires, after which any dispatcher claims the message again. Deliver's
// context ends at 90% of the lease, so a live dispatcher gives up before
// another may take over. Completions are fenced: the UPDATE that records
// an outcome matches the lease owner and the attempt number (which grows
// with every claim), so a dispatcher that was too slow and lost its lease
// changes nothing and does not run the hook. A dispatcher that is stopped
// (its context cancelled) hands its unfinished leases back at once.
//
// Why SKIP LOCKED: on PostgreSQL several replicas claim from one table.
// SELECT ... FOR UPDATE SKIP LOCKED, in the same statement as the UPDATE
// that sets the lease, lets each claimer pass over rows another claimer is
// taking at that moment, instead of waiting for them (and then finding
// them gone) or taking them twice. On SQLite a claim is a single
// UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING in a write
// transaction; the database's single writer makes it atomic, also for two
// processes on one file. The candidates are found by one index-ordered
// scan per claimable state (pending, failed, expired leases) that stops
// after n hits, so a claim costs the same with 10 or 10,000 messages due
// (a bid opening makes every restore of a section due at once).
//
// Waking up: a dispatcher claims when something wakes it, and at the
// latest every PollInterval. Dispatcher.InTx wakes its own dispatcher
// when a transaction that enqueued commits (Kick). On PostgreSQL Kick
// also sends a NOTIFY, after the commit and in a statement of its own
// (notifying inside the transaction would serialize the enqueuing
// commits), which the server delivers to every dispatcher that runs on
// the database (each keeps one connection of its own that LISTENs), so a
// message one replica enqueues is claimed at once by whichever replica is
// free; the channel is named after the outbox table's oid, so services in
// other schemas are not woken. A
// notification is only a wake-up (the claim decides who delivers), and
// the poll stays as the safety net: while the listening connection is
// down the dispatcher polls and reconnects, and once it listens again it
// claims once, so a message enqueued meanwhile is not left for later.
// SQLite wakes in-process only. See listen.go.
//
// Order: messages with the same Group (a sequence group, e.g. the
// applyno of a guarantee file upload) go out one at a time in id order: a
// message is not claimed while an earlier message of its group is not
// done, so the chunks arrive before the complete notice. Messages without
// a group are independent. Among due messages the longest due goes first,
// so a few failing messages cannot starve the rest.
//
// # Nothing applied twice: exactly-once effect
//
// Exactly-once delivery over a network is impossible: a request can reach
// the peer and its answer be lost, and the sender cannot tell that from a
// request that never arrived. The outbox therefore delivers at least once
// (it retries until it has an answer) and the effect is made exactly once
// by idempotent receivers: every interface carries the keys that identify
// the business event (applyno, the notice's state, the chunk index), and
// the receiving service applies an event it has already applied as a
// no-op that answers success again. A redelivery after a lost answer, a
// takeover after a lease expired, or a replay after a restart then changes
// nothing. A redelivery after an attempt the peer may have processed (a
// timeout, a reset after sending, a 5xx) sends that attempt's exact body
// again (Outcome.Sent, kept in sent_body), so that the peer's replay guard
// recognises it as a retry and answers it as the first. On the sending side the same holds for the answer: OnOutcome
// runs in the transaction that marks the message done, so the answer is
// applied exactly when the message completes, once.
//
// # Message log
//
// Every exchange with a peer, in and out, is a row of message_log
// (MessageLog implements transport.MessageLog). The rows form an SM3 hash
// chain: hash = SM3(prev_hash || label || id || SM3(the other columns)),
// the inner digest computed before the entry queues for the writer (v1
// rows of earlier versions, SM3 over everything at once, still verify),
// and a head row (message_log_head) holding the
// last id and hash. The retry column is hashed only when set. Appends lock the head row (an UPDATE, so PostgreSQL
// serializes concurrent appends on it; SQLite has a single writer anyway).
// Concurrent appends are committed together (group commit, batch.go): the
// first caller writes everything queued while the previous transaction
// committed, in one transaction, and each caller returns when its entry is
// committed. Under load one commit serves many exchanges instead of each
// paying its own; SeenSigns does the same.
// VerifyChain reads the chain in one snapshot and names the first row that
// was edited, inserted, deleted or reordered, including the newest rows
// (the head would not match).
//
// # Seen signs and blobs
//
// SeenSigns implements protocol.ReplayGuard on the seen_sign table: one
// upsert records (appkey, sign) until the end of the timestamp window,
// with the digest of the request, and tells whether it was there, so two
// replicas cannot both handle one sign; the answer is added when the
// request is answered (with its message log entry), and the same request
// sent again gets it. Purge drops expired rows. Blobs keeps large files: DirBlobs in a
// directory (file names are the SM3 of the key, never the key, and writes
// go through a temporary file, fsync and rename), DBBlobs in the blobs
// table for replicas that share only the database.
package store
