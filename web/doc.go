// Package web is baohan's consoles, served by the binary from embedded
// templates and assets (html/template, one CSS file, a little vanilla JS):
//
//   - Platform: the trading centre's console. Bidders log in with their CA
//     certificate (a challenge the CA agent signs as a bidderauth
//     platform-login message, checked against the certificate they
//     registered and the console's own public origin, listen.public_url,
//     never the origin a request names), choose a section and a product, apply
//     and follow their applications; staff manage sections and bid
//     openings, applications, guarantees (drawn with ofd/render, seals
//     checked with ses.Verify), bidders and the message log.
//   - Institution: the financial institution's console, and the bidder's
//     page behind redirecturl (GET /bidder/<token> from a browser): open the
//     envelope, sign the agreement and pay, through the CA agent.
//
// Each console mounts in front of its service's handler:
//
//	c, err := web.Platform(ctx, svc, web.Options{})
//	h := c.Handler(svc.Handler()) // /console/ is the console; the rest is the service
//
// Under both: staff accounts (argon2id, hashed in a bounded number of
// slots), logins throttled per client address and locked after repeated
// wrong passwords except for browsers that logged in before (device
// cookies), server-side sessions in the service's database, CSRF tokens on
// every POST, roles (viewer, operator, admin) checked on every action, and
// an audit log chained by SM3 (Auth, VerifyAudit). The bidder's CA agent
// is package caagent.
package web
