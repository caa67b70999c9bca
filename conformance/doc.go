// Package conformance is the conformance kit: it plays one side of the
// electronic bid-guarantee interface against an implementation of the
// other side and reports, check by check, what the implementation does
// against what the spec (interface-spec.zh.txt) and the wire profile
// (docs/PROFILE.md) require.
//
// A Suite is an ordered list of Checks. NewPlatformSuite tests a platform:
// the kit plays the financial institution, receives the platform's calls
// (baohanapply, baohanrestore, ...) on its own endpoint (Suite.Handler) and
// calls the platform's seven interfaces. NewInstitutionSuite tests an
// institution: the kit plays the platform, sends applications and serves
// the platform's interfaces (downloadpublickey, uploadbaohanfile, ...).
//
// Some steps need the implementation to act on its own: a platform sends
// baohanapply when a bidder applies and baohanrestore at the bid opening;
// an institution sends baohannotice once the bidder has opened the
// envelope, signed and paid. A Driver makes those things happen: the
// manual drivers print what a person should do and wait; the drivers for
// baohan's own services do it through their APIs, so that CI runs both
// suites without a person.
//
// Every check records the raw exchanges it made; the report shows them for
// the checks that failed.
//
// Kit is a whole run as `baohan conformance` makes it: given what the
// command parsed (the Config, the admin API, the bidder, the seal, the
// driver) it picks the driver, makes the suite, serves the kit's endpoint
// on a listener and runs the checks with a progress line each.
package conformance
