// Package platform is the trading centre's data service platform
// (数据服务支撑平台) of the electronic bid guarantee: it registers bid
// sections and bidders, applies for guarantees on the bidders' behalf at
// any number of financial institutions, receives the underwriting results
// and the encrypted, sealed guarantee files, releases each application's
// project key at its section's bid opening (开标), and carries the after-sales
// flows (invoices, quitting, cancelling, claims, giving up).
//
// # Shape
//
// Construct with New (options for the clock, logger, HTTP client and
// metrics registry), serve Handler, run the background work with Run, and
// Close at the end:
//
//	svc, err := platform.New(ctx, cfg)
//	go svc.Run(ctx)                          // outbox deliveries, scheduled restores, purges
//	http.ListenAndServe(addr, svc.Handler()) // <prefix>/<interface>, /api/, /metrics, /healthz
//
// The seven interfaces the platform serves (baohannotice,
// downloadpublickey, uploadbaohanfile, baohanfilecompletenotice,
// invoicenotice, quitnotice, giveupnotice) go through transport.Server:
// appkey, sign over the raw JSON, timestamp window, replay and every field
// rule are checked before the handlers here, and every request, however
// bad, is answered {code, message, data}. So do the two optional ones
// (claimsresultnotice, claimsrepaynotice: the outcome of a claim and the
// recovery, claimoutcome.go), refused with code 0 unless the institution's
// extensions list them. The signs of the calls the
// platform sends go into the same replay store (transport.Client.Seen):
// one appsecret signs both directions, so a call of ours posted back to
// us would otherwise pass as the institution's. The seven calls (baohanapply,
// baohanrestore, invoiceapply, quitapply, canclenotice, claimsnotice,
// giveupapply) are written to the store's outbox in the transaction of
// the state change that causes them and delivered with backoff until the
// institution answers; its code 1 or 0 is applied as its decision
// (onOutcome), in the transaction that completes the delivery (a refused
// baohanrestore excepted: the key must get there, so it is tried again,
// and given up visibly only after repeated refusals).
//
// # State
//
// The state machine is the table in state.go (from, event, to, guard);
// every legal and illegal pair is tested. Every move, and the few events
// worth keeping that do not move it, are rows of plat_application_events.
// Refusals by the state machine reach the institution as code 0 with the
// reason.
//
// # The project key
//
// Each application has an SM4 project key of its own (16 random bytes
// made by Apply), sealed with the master key at rest. It encrypts the four
// project fields of the application's applydata: SM4-ECB is
// deterministic, so one key per section would give every application of a
// section the same ciphertexts and link its bidders before the opening
// (名单保密). Applications made before this (key_sealed NULL, migration
// 00003) use their section's key, which is all a section key is kept for.
// What the keys cannot hide is the length: PKCS#7 pads to the next block
// only, so the bidders of a section show the same ciphertext lengths, and
// the same bond (bzjamount, in the clear). Nothing on the wire can change
// that while the institution decrypts exactly the section's fields;
// TestProjectFieldLengthLinkage measures what it tells.
// The key leaves the platform only in the application's baohanrestore,
// built at delivery time (the outbox row holds no key) by restoreFields,
// and only after releaseProjectKey has checked the section's current opening against the clock in the same
// statement that marks the key released. Restores are scheduled as outbox
// messages due at the opening, so they survive restarts and are sent by
// one replica; a move of the opening schedules new ones and the old ones
// stand down when they fall due. Postpone moves an opening later only;
// bringing one forward (AdvanceOpening) releases the keys earlier than
// announced and is an administrator's action with a reason. Both are
// refused once the opening has come or a key is out, and both are kept
// in the section's history (opening.go).
//
// The restore has happened, for the plaintext guarantee's sake, when the
// key went out: releaseProjectKey marks the application (key_released_at)
// in the transaction that releases the key, before it is on the wire. The
// institution answers baohanrestore and starts uploading the plaintext
// guarantee at once, so its chunks and even its completion notice may
// arrive before the platform has applied the answer; they are accepted
// (the keyReleased guard of cipher_received → plain_received), the move
// records the restore first, and the answer, applied later, finds it in
// the history and adds nothing. Each event is in the history once, in the
// usual order, whichever way the two race.
//
// # Guarantee files
//
// Chunks are kept in the blob store under (applyno, baohanno, filetype,
// index); the same bytes twice are accepted, different bytes refused. The
// completion notice streams the chunks in index order through SM4-CBC
// into a new blob while computing the digest (SM3 or MD5 by its length),
// so memory does not grow with the file (BenchmarkCompleteNotice); the
// OFD's seals are then verified with ofd/ses against the trust roots (the
// package is read into memory for that, within ofd.DefaultLimits).
//
// # Admin API
//
// Under /api/, with "Authorization: Bearer <admin token>", described with
// the institution's at /api/openapi.json (docs/ADMIN-API.md):
//
//	GET  /api/institutions
//	GET  /api/applications?state=&section=&institution=&bidder=&applyno=&baohanno=&limit=&offset=
//	POST /api/applications                      {section_no, bidder_code, institution, product}
//	GET  /api/applications/{applyno}            application, history, guarantees, calls
//	POST /api/applications/{applyno}/quit       {reason}
//	POST /api/applications/{applyno}/cancel     {reason}
//	POST /api/applications/{applyno}/claim      {payeraccount, payeramount, applyusername, applyuserphone, reason, filelist: [url]}
//	POST /api/applications/{applyno}/giveup     {reason}
//	POST /api/applications/{applyno}/invoice    {type: "0"|"1", amount, address, phone, bank, account, email, ...}
//	POST /api/applications/{applyno}/restore
//	GET  /api/sections?q=   POST /api/sections  {section_no, name, tenderer, tenderer_code, bond_amount, kaibiaotime}
//	GET  /api/sections/{no} POST /api/sections/{no}/postpone {kaibiaotime, reason}  POST /api/sections/{no}/restore
//	POST /api/sections/{no}/advance {kaibiaotime, reason (required)}  GET /api/sections/{no}/history
//	GET  /api/bidders?q=    POST /api/bidders   {name, credit_code, cert_pem}   GET /api/bidders/{code}
//	GET  /api/guarantees?applyno=  GET /api/guarantees/{applyno}/{filetype}[/ofd|/report]
//
// and, as every service (package service): the message log (GET
// /api/messages, /api/messages/{id}, /api/messages/verify), the outbox
// (GET /api/outbox, /api/outbox/counts, POST /api/outbox/{id}/retry),
// /healthz, /readyz and /metrics.
//
// The same actions are methods of *Service (RegisterSection,
// RegisterBidder, Apply, Quit, Cancel, Claim, GiveUp, RequestInvoice,
// Postpone, AdvanceOpening, RestoreNow, ...), for the web console and the demo.
//
// # Running several replicas
//
// Replicas share one PostgreSQL database (the outbox leases make each
// call go out once), one master key (BAOHAN_MASTER_KEY or the same key
// file) and the blobs: a shared data directory, or storage.blobs = "db".
package platform
