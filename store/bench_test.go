package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func eachDBBench(b *testing.B, fn func(b *testing.B, env *testEnv)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, sqliteEnv(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, postgresEnv(b)) })
}

var benchSeq atomic.Int64

// One state change (an UPDATE) and its message, committed: the unit of
// work every inbound call that notifies the peer does.
func BenchmarkEnqueueCommit(b *testing.B) {
	eachDBBench(b, func(b *testing.B, env *testEnv) {
		ctx := context.Background()
		db := env.open(b)
		mustExec(b, db, "CREATE TABLE app (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		mustExec(b, db, "INSERT INTO app VALUES (1, 0)")
		upd := db.Rebind("UPDATE app SET n = n + 1 WHERE k = 1")
		run := func(b *testing.B, parallel bool) {
			one := func() {
				i := benchSeq.Add(1)
				m := testMsg(int(i), "")
				m.DedupeKey = fmt.Sprint("bench:", i)
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, upd); err != nil {
						return err
					}
					return Enqueue(ctx, tx, db.Dialect, m, time.Time{})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			} else {
				for b.Loop() {
					one()
				}
			}
		}
		b.Run("serial", func(b *testing.B) { run(b, false) })
		b.Run("parallel", func(b *testing.B) { run(b, true) })
	})
}

func BenchmarkMessageLogAppend(b *testing.B) {
	eachDBBench(b, func(b *testing.B, env *testEnv) {
		ctx := context.Background()
		l := NewMessageLog(env.open(b))
		e := logEntry(1)
		e.Request = make([]byte, 1024)
		for b.Loop() {
			c := *e
			c.ID, c.At = 0, time.Time{}
			if err := l.Append(ctx, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSeenBefore(b *testing.B) {
	eachDBBench(b, func(b *testing.B, env *testEnv) {
		ctx := context.Background()
		s := NewSeenSigns(env.open(b))
		until := time.Now().Add(time.Hour)
		for b.Loop() {
			if _, err := s.SeenBefore(ctx, "appkey", fmt.Sprint(benchSeq.Add(1)), until); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Delivery throughput of one dispatcher with an instant Deliver.
func BenchmarkDispatch(b *testing.B) {
	eachDBBench(b, func(b *testing.B, env *testEnv) {
		db := env.open(b)
		const batch = 200
		for b.Loop() {
			b.StopTimer()
			msgs := make([]OutMessage, batch)
			for i := range msgs {
				msgs[i] = testMsg(int(benchSeq.Add(1)), "")
			}
			enqueue(b, db, msgs...)
			var got atomic.Int32
			d := &Dispatcher{DB: db, Workers: 4, PollInterval: time.Hour, Logger: quietLogger,
				Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
					got.Add(1)
					return Delivered("ok"), nil
				}}
			b.StartTimer()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			for got.Load() < batch {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
			<-done
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// The SQLite write discipline, measured: 32 goroutines committing small
// write transactions through InTx (one writer connection, Go queues the
// writers) versus BEGIN IMMEDIATE on a pool of 8 connections (SQLite's
// busy handler queues them, with its sleep-and-poll).
func BenchmarkSQLiteWriters(b *testing.B) {
	for _, mode := range []string{"writer-pool", "general-pool"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db := sqliteEnv(b).open(b, WithMaxOpenConns(8))
			mustExec(b, db, "CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)")
			var busy atomic.Int64
			db.onRetry = func(error) { busy.Add(1) }
			write := func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO w (v) VALUES ('x')")
				return err
			}
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var err error
					if mode == "writer-pool" {
						err = db.InTx(ctx, write)
					} else {
						err = db.retry(ctx, func() error {
							tx, err := db.DB.BeginTx(ctx, nil)
							if err != nil {
								return err
							}
							if err := write(tx); err != nil {
								tx.Rollback()
								return err
							}
							return tx.Commit()
						})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(busy.Load()), "busy-retries")
		})
	}
}
