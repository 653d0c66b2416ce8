#!/usr/bin/env bash
# bench/ab_drain.sh — the same Kafka backlog drained by `silver --once` of several binaries (or option
# sets), alternated round by round, so that code before and after a change meet the same machine state.
# Not part of `make bench` (it needs a second build); the README's A/B tables come from it.
#
#   bench/ab_drain.sh EVENTS ROUNDS LABEL=BINARY[:EXTRA OPTIONS] ...
#   e.g. bench/ab_drain.sh 2000000 2 before=/tmp/old/build/smarttech now=build/smarttech \
#          "now-nomaint=build/smarttech:--no-maintenance"
# Env: BROKERS (localhost:9092). Prints the raw librdkafka limit, then per run: events/s, CPU s, events per
# CPU-second, cores busy, peak RSS and Silver's rows (which must be equal across runs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=$1; ROUNDS=$2; shift 2
BROKERS=${BROKERS:-localhost:9092}
B=$ROOT/build/smarttech
T=ab_$(date +%s)
W=$(mktemp -d /tmp/ab_drain.XXXXXX)
trap 'rm -rf "$W"' EXIT
$B topic create --brokers "$BROKERS" --topic "$T" --partitions 3 >/dev/null
$B simulate --brokers "$BROKERS" --topic "$T" --count "$EVENTS" --faults 0.02 --seed 42 --quiet >/dev/null
echo "raw consume: $("$ROOT/build/raw_consume" --brokers "$BROKERS" --topic "$T" 2>&1 | tail -1)"
for r in $(seq 1 "$ROUNDS"); do
  for spec in "$@"; do
    label=${spec%%=*}; rest=${spec#*=}; bin=${rest%%:*}; extra=""
    [[ "$rest" == *:* ]] && extra=${rest#*:}
    o=$W/$label-$r
    # shellcheck disable=SC2086  # extra options are words
    /usr/bin/time -f "%e %U %S %M" -o "$o.time" "$bin" silver --brokers "$BROKERS" --topic "$T" --group "g-$label-$r" \
      --output "$o/silver" --bronze "$o/bronze" --quarantine "$o/q" --checkpoint "$o/ck" --once --quiet $extra 2>"$o.log"
    read -r e u s m < "$o.time"
    rows=$($B table info "$o/silver" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["num_rows"])')
    python3 -c "
e, c, m, n = $e, $u + $s, $m, $EVENTS
print(f'$label round $r: {n / e:,.0f} events/s, wall {e:.1f} s, CPU {c:.1f} s, {n / c:,.0f} events per CPU-s, '
      f'cores busy {c / e:.2f}, peak RSS {m / 1024:.0f} MiB, Silver rows $rows')"
    rm -rf "$o"
  done
done
