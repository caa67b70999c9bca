#!/bin/sh
# Regenerates docs/DEMO.md from a fresh run of baohan demo.
set -e
cd "$(dirname "$0")/.."
go build -o /tmp/baohan-demo-bin ./cmd/baohan
out=$(cd /tmp && /tmp/baohan-demo-bin demo 2>&1) || { echo "$out"; exit 1; }
{
cat <<'HEAD'
# The demo

`baohan demo` runs the whole system in one process and drives every
interface end to end: see the README's *Demo* section for what it does.
Below is the complete output of one run (`go run ./cmd/baohan demo`, stdout
and stderr together, not on a terminal: on a terminal the step counter is a
spinner line that redraws in place).

- Lines starting `[ n/27]` are the steps (stderr), with what each found.
- Lines starting `+ s.ss` are the exchanges between the services as they
  happen (stdout): time since the start, caller → callee, interface, applyno
  (baohanno for invoicenotice), the answer's code, the time the callee took,
  and for chunks the filetype and index. A refusal shows its message; the
  caller's outbox retries it with backoff.
- The summary table, the verified guarantees and the interface count close
  the run; the exit status is 0.

Regenerate with `sh docs/demo.sh`.

```
HEAD
echo "$out"
echo '```'
} > docs/DEMO.md
echo "docs/DEMO.md written"
