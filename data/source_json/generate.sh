#!/bin/sh
# Regenerates the sample files of data/source_json/ (Part 2.1 walkthrough: copy them
# into data/input/ while `smarttech bronze` runs). Byte-for-byte repeatable: the
# simulator is deterministic for a given seed and --start-time.
#
#   1500 events from 72 sensors (2 buildings x 3 floors x 4 rooms x 3 types), one event
#   per simulated second from 2026-11-26T08:00:00Z (the morning occupancy ramp),
#   5 % of them with faults (malformed JSON, missing/mistyped fields, impossible values,
#   Fahrenheit readings, duplicates, late, out-of-order and future events),
#   future_timestamp faults dated after 2030 (so they stay in the future for years),
#   in 5 JSON Lines files of 300 events: events-000001.json .. events-000005.json,
#   plus manifest.csv, the simulator's record of every event (valid or not, fault, reason).
#
# usage: data/source_json/generate.sh [path/to/smarttech]   (default build/smarttech)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-"$here/../../build/smarttech"}
rm -f "$here"/events-*.json "$here"/manifest.csv
"$bin" simulate --seed 2026 --start-time 2026-11-26T08:00:00Z --sim-rate 1 --count 1500 \
    --faults 0.05 --future-after 2030-01-01T00:00:00Z --files "$here" --events-per-file 300 --manifest "$here/manifest.csv" --quiet
