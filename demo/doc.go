// Package demo runs the whole system in one process: a platform and an
// institution (with their consoles and the bidder's CA agent) on loopback
// ports, wired to each other with a test CA, and scenarios that between
// them use all 14 interfaces and the 2 optional ones: a guarantee from
// application to plaintext guarantee and invoice, a refusal, a withdrawal,
// give-ups on both sides, a cancellation and a claim paid and then
// recovered. It is what `baohan demo` runs.
//
// Start builds the system; Run drives the scenarios and reports each
// step, each exchange between the services (seen by a Tap on their
// handlers), the OFD files written and verified, and the interfaces used.
package demo
