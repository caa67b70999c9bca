package store

import "context"

// ClaimDue leases up to n due messages to d.Owner, the longest due first,
// with the query a worker of Run claims with (without a per-peer limit),
// and returns them. It is for tools that drive the outbox by hand — the
// benchmark times it on a grown database; a service uses Run.
func (d *Dispatcher) ClaimDue(ctx context.Context, n int) ([]*OutMessage, error) {
	d.init()
	return d.claim(ctx, n)
}
