package bench

import "context"

func (r *runner) scenario2(ctx context.Context, db string) ([]Row, error) { return nil, nil }
func (r *runner) scenario3(ctx context.Context, db string) ([]Row, error) { return nil, nil }
func (r *runner) scenario4(ctx context.Context, db string) ([]Row, error) { return nil, nil }
