// Package platform is the trading centre's data service platform
// (数据服务支撑平台) of the electronic bid guarantee: it registers bid
// sections and bidders, applies for guarantees on the bidders' behalf at
// any number of financial institutions, receives the underwriting results
// and the encrypted, sealed guarantee files, releases each section's
// project key at its bid opening (开标), and carries the after-sales
// flows (invoices, quitting, cancelling, claims, giving up).
//
// The service serves the seven interfaces the platform side owns through
// transport.Server, and calls the seven others through the store's
// outbox, in the same transaction as the state change that causes them.
// The state machine is the table in state.go; every move is recorded in
// the application_events history.
//
// Construct with New, serve Handler, and run the background work (outbox
// dispatchers, the bid-opening scheduler, purges) with Run.
package platform
