#!/usr/bin/env bash
# bench/producer.sh — simulator -> local Kafka throughput, beside a raw librdkafka producer (kcat -P)
# sending the very same messages (same keys, same bytes) with the same producer settings, in the
# same run. Prints progress on stderr and one JSON line on stdout:
#   {"bench":"producer","events":N,"simulator_eps":S,"kcat_eps":K,"ratio":S/K,...}
#
#   bench/producer.sh [EVENTS]          (default 1000000; env BENCH_EVENTS too)
# Env: SMARTTECH_BIN (default build/smarttech), BROKERS (default localhost:9092; the local broker is
#      started with scripts/kafka-local if nothing answers, and stopped again afterwards),
#      BENCH_COMPRESSION (default lz4, the simulator's default), BENCH_ROUNDS (default 2: the two
#      producers alternate, each side's best round counts).
# Both sides are timed from process start to the last delivery report (kcat -P and simulate both
# wait for every acknowledgement before exiting); both topics are warmed first.
# Targets (issue 4): simulator >= 200,000 events/s and >= 0.8 of kcat.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${1:-${BENCH_EVENTS:-1000000}}
BIN=${SMARTTECH_BIN:-$ROOT/build/smarttech}
BROKERS=${BROKERS:-localhost:9092}
COMP=${BENCH_COMPRESSION:-lz4}
ROUNDS=${BENCH_ROUNDS:-2}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/st-bench-producer.XXXXXX")
STARTED=0
log() { echo "bench/producer: $*" >&2; }

cleanup() {
  rm -rf "$TMP"
  if [ -n "${SIM_TOPIC:-}" ] && [ -x .venv/bin/python ]; then
    .venv/bin/python - "$BROKERS" "$SIM_TOPIC" "$RAW_TOPIC" <<'PY' >/dev/null 2>&1 || true
import sys
from confluent_kafka.admin import AdminClient
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in a.delete_topics(sys.argv[2:], operation_timeout=30).values():
    try: f.result(timeout=60)
    except Exception: pass
PY
  fi
  if [ "$STARTED" = 1 ]; then scripts/kafka-local stop >&2 || true; fi
}
trap cleanup EXIT

[ -x "$BIN" ] || { log "no binary at $BIN (make build, or set SMARTTECH_BIN)"; exit 1; }
command -v kcat >/dev/null || { log "kcat is needed (scripts/bootstrap)"; exit 1; }
if ! kcat -b "$BROKERS" -L -m 3 >/dev/null 2>&1; then
  [ "$BROKERS" = localhost:9092 ] || { log "no broker answers at $BROKERS"; exit 1; }
  scripts/kafka-local start >&2
  STARTED=1
fi

stamp=$(date +%H%M%S)-$$
SIM_TOPIC=bench_sim_$stamp
RAW_TOPIC=bench_raw_$stamp
"$BIN" topic create --brokers "$BROKERS" --topic "$SIM_TOPIC" >&2
"$BIN" topic create --brokers "$BROKERS" --topic "$RAW_TOPIC" >&2

# The raw producer's input: the simulator's own events (same seed) as "sensor_id<TAB>json" lines.
log "generating $N events for kcat"
# (under pipefail + set -e a failed simulate would end the script here without a word: say why)
"$BIN" simulate --count "$N" --seed 1 --quiet 2>"$TMP/gen.err" |
  awk '{ i = index($0, "\"sensor_id\":\""); r = substr($0, i + 13); j = index(r, "\"");
         print substr(r, 1, j - 1) "\t" $0 }' > "$TMP/msgs.tsv" ||
  { log "generating the events failed"; cat "$TMP/gen.err" >&2; exit 1; }
lines=$(wc -l < "$TMP/msgs.tsv")
[ "$lines" = "$N" ] || { log "expected $N lines for kcat, got $lines"; cat "$TMP/gen.err" >&2; exit 1; }
avg=$(( $(wc -c < "$TMP/msgs.tsv") / N ))

# The simulator's producer defaults (src/kafka/kafka.h), given to kcat explicitly.
PROPS=(-X enable.idempotence=true -X acks=all -X "compression.type=$COMP" -X linger.ms=20
       -X batch.size=1000000 -X batch.num.messages=10000 -X queue.buffering.max.messages=500000
       -X message.timeout.ms=300000 -X partitioner=murmur2_random)

now() { date +%s.%N; }
# Warm both topics (JIT, page cache, new partitions) so neither side pays for it.
for t in "$SIM_TOPIC" "$RAW_TOPIC"; do
  head -n 50000 "$TMP/msgs.tsv" | kcat -b "$BROKERS" -t "$t" -P -K $'\t' "${PROPS[@]}" 2>/dev/null
done

# Alternate the two producers (other work on this 2-core machine comes and goes).
SIM_TIMES=() RAW_TIMES=()
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r/$ROUNDS: simulator, $N events -> $SIM_TOPIC"
  t0=$(now)
  "$BIN" simulate --brokers "$BROKERS" --topic "$SIM_TOPIC" --count "$N" --seed 1 --quiet \
    -X "compression.type=$COMP" >"$TMP/sim.out" 2>"$TMP/sim.err" || { tail -n 20 "$TMP/sim.err" >&2; exit 1; }
  t1=$(now)
  grep -q "$N delivered, 0 failed" "$TMP/sim.err" || { tail -n 5 "$TMP/sim.err" >&2; exit 1; }
  log "round $r/$ROUNDS: kcat -P, $N events -> $RAW_TOPIC"
  kcat -b "$BROKERS" -t "$RAW_TOPIC" -P -K $'\t' "${PROPS[@]}" -l "$TMP/msgs.tsv"
  t2=$(now)
  SIM_TIMES+=("$(echo "$t1 - $t0" | bc)")
  RAW_TIMES+=("$(echo "$t2 - $t1" | bc)")
done

python3 - "$N" "$avg" "$COMP" "${SIM_TIMES[*]}" "${RAW_TIMES[*]}" <<'PY'
import json, sys
n, avg, comp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sim_t = [float(x) for x in sys.argv[4].split()]
raw_t = [float(x) for x in sys.argv[5].split()]
sim, raw = n / min(sim_t), n / min(raw_t)
print(json.dumps({"bench": "producer", "events": n, "avg_message_bytes": avg, "compression": comp,
                  "rounds": len(sim_t), "simulator_s": sim_t, "kcat_s": raw_t,
                  "simulator_eps": round(sim), "kcat_eps": round(raw), "ratio": round(sim / raw, 3),
                  "target_eps": 200000, "target_ratio": 0.8,
                  "meets_target": sim >= 200000 and sim / raw >= 0.8}))
PY
