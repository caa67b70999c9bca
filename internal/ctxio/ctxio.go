// Package ctxio is the context-aware I/O that the streaming paths share:
// a long copy of a guarantee file or a blob stops when its context ends.
package ctxio

import (
	"context"
	"io"
)

// Reader returns a reader that reads from r until ctx ends, and from
// then on returns ctx's error without reading.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
