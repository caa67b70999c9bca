// Package bench measures baohan at the two peaks of the bid-guarantee
// trade, the bid deadline (many bidders applying, many guarantees
// uploading in the last hour) and the bid opening (every guarantee of a
// section restored at once), beside ceilings measured in the same run on
// the same machine.
//
// It is a library of building blocks, used by `baohan bench` and by the
// package's Go benchmarks:
//
//   - Load runs an operation from N concurrent clients, bounded by a count
//     and/or a duration, and records every latency (Stats: exact
//     percentiles from the sorted samples).
//   - MemSampler samples the Go heap (the quantities of
//     runtime.MemStats.HeapInuse and Sys, read through runtime/metrics,
//     which does not stop the world) and ProcPeakRSS reads a process's
//     VmHWM from /proc.
//   - VerifyCeiling is a bare net/http handler that only parses a request
//     and checks its sign (protocol.ParseRequest + protocol.Verify); the
//     ceiling of every inbound interface. CryptoCeiling is SM4-CBC
//     decryption plus SM3 of a guarantee file in memory; the ceiling of
//     the upload path.
//   - The scenarios (Scenario1 .. Scenario4) start the project's own
//     services on 127.0.0.1 (platform.New, institution.New), seed them
//     through their Go methods and their databases outside the timed
//     part, drive them over HTTP and report a Row each.
//
// Targets live in the Rows (Target, Pass), never in tests.
package bench
