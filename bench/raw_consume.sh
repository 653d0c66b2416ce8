#!/usr/bin/env bash
# bench/raw_consume.sh — the raw Kafka consume limit (issue 7 step 2): a topic's backlog read with
# librdkafka to /dev/null, two ways, in the same run:
#   tools/raw_consume.c  librdkafka consumer, partitions assigned from the beginning, payloads
#                        touched (summed sizes), timed from assign to the last end offset;
#   kcat -C -e -o beginning -q -f '%o\n' >/dev/null   (whole process timed: start-up included).
# The limit is the faster of the two (the stricter yardstick for our silver job). Prints one JSON line:
#   {"bench":"raw_consume","events":N,"tool_eps":..,"kcat_eps":..,"limit_eps":..,"limit_by":"tool|kcat"}
#
#   bench/raw_consume.sh TOPIC [EXPECTED_EVENTS]
# Env: BROKERS (default localhost:9092), RAW_CONSUME_BIN (default build/raw_consume, built by make build).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOPIC=${1:?usage: bench/raw_consume.sh TOPIC [EXPECTED_EVENTS]}
EXPECT=${2:-}
BROKERS=${BROKERS:-localhost:9092}
TOOL=${RAW_CONSUME_BIN:-$ROOT/build/raw_consume}
[ -x "$TOOL" ] || { echo "bench/raw_consume: no $TOOL (make build)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "bench/raw_consume: kcat is needed (scripts/bootstrap)" >&2; exit 1; }

# Warm the page cache and the broker once so that neither reader pays for the first read.
"$TOOL" --brokers "$BROKERS" --topic "$TOPIC" >/dev/null
tool=$("$TOOL" --brokers "$BROKERS" --topic "$TOPIC")
t0=$(date +%s.%N)
kn=$(kcat -b "$BROKERS" -C -t "$TOPIC" -e -o beginning -q -f '%o\n' | wc -l) ||
  { echo "bench/raw_consume: kcat -C failed on $TOPIC" >&2; exit 1; }
t1=$(date +%s.%N)

python3 - "$tool" "$kn" "$t0" "$t1" "$EXPECT" <<'EOF'
import json, sys
tool = json.loads(sys.argv[1])
kn, t0, t1 = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
expect = int(sys.argv[5]) if sys.argv[5] else tool["expected"]
kcat_s = t1 - t0
r = {"bench": "raw_consume", "events": tool["messages"], "bytes": tool["bytes"],
     "tool_s": tool["seconds"], "tool_eps": round(tool["messages"] / tool["seconds"]),
     "kcat_events": kn, "kcat_s": round(kcat_s, 3), "kcat_eps": round(kn / kcat_s)}
r["limit_eps"] = max(r["tool_eps"], r["kcat_eps"])
r["limit_by"] = "tool" if r["tool_eps"] >= r["kcat_eps"] else "kcat"
r["complete"] = tool["messages"] == expect and kn == expect
print(json.dumps(r))
EOF
