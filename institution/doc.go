// Package institution is the financial institution's side (金融机构: a bank,
// guarantee company or insurer) of the electronic bid-guarantee interface,
// for one institution connected to any number of platforms.
//
// It serves the seven interfaces the spec gives the institution
// (baohanapply, baohanrestore, invoiceapply, quitapply, canclenotice,
// claimsnotice, giveupapply) through transport.Server, runs the bidder's
// flow behind the redirecturl (open the digital envelope, sign the
// agreement, pay), underwrites by rule or by a person, issues the sealed
// OFD guarantee and uploads it encrypted and in chunks, and calls the
// platform's interfaces (baohannotice, downloadpublickey, uploadbaohanfile,
// baohanfilecompletenotice, invoicenotice, quitnotice, giveupnotice)
// through the store's outbox, so that every state change and the message
// it causes are written in one transaction and delivered exactly once
// across crashes. The signs of the calls it sends go into its own replay
// store (transport.Client.Seen), so that a call of ours posted back to us
// is refused as a replay.
//
// HTTP surface (Service.Handler):
//
//	POST <prefix>/<interface>          the seven served interfaces (transport.Server)
//	GET  /bidder/<token>               the bidder's view and the digital envelope
//	POST /bidder/<token>/open          {"key": base64 SM4 key from the envelope}
//	GET  /bidder/<token>/agreement     the unsigned agreement (OFD)
//	POST /bidder/<token>/agreement     the agreement signed by the bidder (OFD)
//	POST /bidder/<token>/pay           {"payername","payeraccount"}
//	GET  /bidder/<token>/guarantee     the newest sealed guarantee (OFD)
//	POST /bidder/<token>/challenge     {"action":"quit"|"giveup"}: a single-use challenge
//	POST /bidder/<token>/quit|giveup   withdrawal or give-up started here, signed by the
//	                                   bidder's certificate over the challenge (BidderProof:
//	                                   bidderauth institution-quit | institution-giveup,
//	                                   for this service's listen.public_url)
//	GET  /invoices/<token>             an issued invoice
//	/api/...                           the admin API (bearer token): admin.go and, as every
//	                                   service, the message log and the outbox (package
//	                                   service); all described at /api/openapi.json
//	GET  /metrics, /healthz, /readyz
//
// The application's life is the State machine in state.go; the issuance
// of a guarantee file (ciphertext, then plaintext after the bid opening)
// is the small Stage machine in issue.go, driven by the outcomes of its
// outbox messages.
//
// The redirecturl token is a bearer token the platform holds in the clear
// too, so it is never enough to act against the bidder: opening needs the
// key from the digital envelope, signing the agreement the bidder's
// certificate, and withdrawing or giving up a signature by the bidder's
// certificate over a challenge issued for that action (bidderproof.go).
// Challenges are stateless (bidderauth.Challenges, under a key derived
// from the master key): asking for one writes nothing, and one is
// recorded (inst_used_challenges) only when a proof over it is accepted.
// Here the token is kept as a hash and a sealed copy only: the message log
// stores the baohanapply answer with the token replaced by a marker (the
// start of its token_hash), and log lines name token paths the same way
// (redact.go).
//
// Claims (claimsnotice) are acknowledged at once (见索即付) while they stay
// within the guarantee: payeramount, with the claims before it, at most
// the guaranteed amount (claims.go). The staff then record the claim's
// outcome and the recovery of what was paid (claimoutcome.go), which go to
// the platform as the optional claimsresultnotice and claimsrepaynotice
// when its extensions list them.
//
// # Decisions on what the bidder is entitled to
//
// A peer's request is decided on the business rule, not on how far the
// institution's own upload bookkeeping has got: the platform can act on a
// file the moment it acknowledges it, before the institution has applied
// that acknowledgement.
//
// Quitting (退保, quitapply or the bidder's page): a guarantee can be
// withdrawn once it is approved (the success notice given) and before the
// bid opening, with no claim made on it: in approved and issued alike,
// never after baohanrestore (restoring, restored). This is the platform's
// rule too (it sends quitapply in approved and cipher_received), so both
// sides agree on the answer however the quit and the acknowledgement of
// the ciphertext guarantee interleave. An approved application quit while
// its guarantee is uploaded stops the issuance: files not yet acknowledged
// are stopped, their messages still in the outbox resolve without being
// sent, and quitnotice (queued behind them in the application's sequence
// group) follows; a completion notice already sent and acknowledged is
// still applied (the file is complete, the state stays quit). Being
// cancelled (canclenotice) stops the issuance the same way.
package institution
