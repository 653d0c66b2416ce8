"""Independent expectation for `smarttech bronze`: which records of an input file become
Bronze rows and which go to quarantine with which reason, computed with Python's json from
the rules written in src/iot/event.h (the data contract) and docs/bronze.md (record cutting).

Not shared code with the C side: this is the second opinion the integration tests compare
the Delta tables against.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

MAX_LEN = 1 << 20
FUTURE_TOLERANCE_US = 5 * 60 * 1_000_000
MAX_EPOCH_MS = 253402300799999
REQUIRED = ["event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value", "unit",
            "event_time", "seq"]
NUMBER_FIELDS = {"schema_version", "floor", "value", "seq", "battery_pct"}
STRING_FIELDS = ["event_id", "sensor_id", "building_id", "room_id", "sensor_type", "unit"]
# The known kinds (src/iot/sensor_kinds.c, written out again here): canonical unit, accepted
# units with their conversion to it, physical range (inclusive). Other types are open.
KINDS = {
    "temperature": ("C", {"C": None, "\u00b0C": None, "F": lambda v: (v - 32) * 5 / 9,
                          "\u00b0F": lambda v: (v - 32) * 5 / 9}, (-40, 85)),
    "humidity": ("%", {"%": None}, (0, 100)),
    "co2": ("ppm", {"ppm": None}, (0, 20000)),
    "pressure": ("hPa", {"hPa": None, "kPa": lambda v: v * 10}, (870, 1085)),
}
ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$")
WS = b" \t\r\n"


class Bad(Exception):
    def __init__(self, reason):
        self.reason = reason


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _has_surrogate(o) -> bool:
    if isinstance(o, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in o)
    if isinstance(o, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in o.items())
    if isinstance(o, list):
        return any(_has_surrogate(v) for v in o)
    return False


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integral(v, lo, hi):
    if isinstance(v, int):
        return v if lo <= v <= hi else None
    if math.isfinite(v) and v == math.floor(v) and lo <= v <= hi:
        return int(v)
    return None


def _jtype(v) -> str:
    return ("null" if v is None else "bool" if isinstance(v, bool) else "number" if _is_num(v)
            else "string" if isinstance(v, str) else "object" if isinstance(v, dict) else "array")


def iso_to_us(s: str):
    m = ISO.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    import datetime as dt
    try:
        base = dt.datetime(y, mo, d, h, mi, sec, tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    us = int((base - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds()) * 1_000_000
    if frac:
        us += int((frac[1:] + "000000")[:6])
    z = m.group(8)
    if z not in ("Z", "z"):
        sign = 1 if z[0] == "+" else -1
        hh, mm = int(z[1:3]), int(z[-2:])
        us -= sign * (hh * 3600 + mm * 60) * 1_000_000
    return us


def classify_obj(o, now_us: int):
    """-> dict of typed columns, or raises Bad(reason)."""
    if not isinstance(o, dict):
        raise Bad("not_an_object")
    sv = o.get("schema_version")
    if sv is not None:
        if not _is_num(sv):
            raise Bad("wrong_type:schema_version")
        if _integral(sv, 1, 1) is None:
            raise Bad("unsupported_schema_version")
    for f in REQUIRED:
        if o.get(f) is None:
            raise Bad(f"missing_field:{f}")
    for f in ["event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value", "unit",
              "event_time", "seq", "battery_pct"]:
        v = o.get(f)
        if v is None:
            continue
        want = "number" if f in NUMBER_FIELDS else "string"
        t = _jtype(v)
        if not (t == want or (f == "event_time" and t == "number")):
            raise Bad(f"wrong_type:{f}")
    for f in STRING_FIELDS:
        n = len(o[f].encode("utf-8"))
        if n == 0 or n > 256:
            raise Bad(f"invalid_field:{f}")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", o["sensor_type"]):
        raise Bad("invalid_field:sensor_type")
    ub = o["unit"].encode("utf-8")
    if not (1 <= len(ub) <= 16) or any(b < 0x20 or b == 0x7F for b in ub):
        raise Bad("invalid_field:unit")
    floor = _integral(o["floor"], -1000, 1000)
    if floor is None:
        raise Bad("invalid_field:floor")
    seq = _integral(o["seq"], 0, 2**63 - 1)
    if seq is None:
        raise Bad("invalid_field:seq")
    value = float(o["value"])
    if not math.isfinite(value):
        raise Bad("invalid_field:value")
    et = o["event_time"]
    if isinstance(et, str):
        zoned = et.endswith(("Z", "z")) or any(c in "+-" for c in et[19:])
        us = iso_to_us(et) if len(et) >= 20 and zoned else None
        if us is None:
            raise Bad("invalid_field:event_time")
    else:
        if isinstance(et, int):
            if not 0 <= et <= MAX_EPOCH_MS:
                raise Bad("invalid_field:event_time")
            us = et * 1000
        else:
            if not (0 <= et <= MAX_EPOCH_MS):
                raise Bad("invalid_field:event_time")
            us = round(et * 1000.0)
    st, unit, conv = o["sensor_type"], o["unit"], False
    if st in KINDS:
        canonical, units, (lo, hi) = KINDS[st]
        if unit not in units:
            raise Bad(f"unit_mismatch:{st}")
        if units[unit] is not None:
            value = units[unit](value)
        conv = unit in ("F", "\u00b0F")  # converted_from_f: only a °F reading says so
        unit = canonical
        if not lo <= value <= hi:
            raise Bad(f"impossible_value:{st}")
    bp = o.get("battery_pct")
    if bp is not None and not 0 <= bp <= 100:
        raise Bad("impossible_value:battery_pct")
    if us > now_us + FUTURE_TOLERANCE_US:
        raise Bad("future_timestamp")
    return {"event_id": o["event_id"], "sensor_id": o["sensor_id"], "building_id": o["building_id"],
            "floor": floor, "room_id": o["room_id"], "sensor_type": st, "value": value, "unit": unit,
            "event_time_us": us, "seq": seq, "battery_pct": None if bp is None else float(bp),
            "converted_from_f": conv}


def classify_bytes(raw: bytes, now_us: int):
    if len(raw) > MAX_LEN:
        raise Bad("line_too_long")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("invalid_utf8")
    try:
        o = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise Bad("malformed_json")
    if _has_surrogate(o):
        raise Bad("invalid_utf8")
    return classify_obj(o, now_us)


def records(path: Path):
    """Yields (number, raw bytes or None, parsed object or None) the way the job cuts a file:
    JSON Lines (blank lines skipped, numbered by line) or, when the first non-space byte is
    '[', the elements of one JSON array (numbered by index + 1; only well-formed arrays)."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.lstrip(WS).startswith(b"["):
        for i, el in enumerate(json.loads(data.decode("utf-8")), start=1):
            yield i, None, el
        return
    for i, line in enumerate(data.split(b"\n"), start=1):
        if line.strip(WS):
            yield i, line, None


def expect_file(path: Path, now_us: int):
    """-> (valid {line: columns}, invalid {line: reason})."""
    valid, invalid = {}, {}
    for n, raw, obj in records(path):
        try:
            valid[n] = classify_bytes(raw, now_us) if raw is not None else classify_obj(obj, now_us)
        except Bad as b:
            invalid[n] = b.reason
    return valid, invalid


# ----------------------------------------------------------------------------- harness helpers

def read_table(path: Path) -> list[dict]:
    """Every row of a Delta table, read by delta-rs (deltalake)."""
    from deltalake import DeltaTable
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def table_version(path: Path) -> int:
    from deltalake import DeltaTable
    return DeltaTable(str(path)).version()


def duckdb_count(path: Path, where: str = "true") -> int:
    """Row count through DuckDB's delta extension (a second, independent reader)."""
    import glob
    import duckdb
    import duckdb_ext  # the duckdb-ext-delta wheel ships the extension file: LOAD it by path, offline
    ext = glob.glob(str(Path(list(duckdb_ext.__path__)[0]) / "extensions/*/*/delta.duckdb_extension"))
    assert ext, "duckdb-ext-delta wheel has no delta.duckdb_extension"
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    try:
        con.execute(f"LOAD '{ext[0]}'")
        return con.execute(f"SELECT count(*) FROM delta_scan('{path}') WHERE {where}").fetchone()[0]
    finally:
        con.close()


def ts_us(v) -> int:
    """pyarrow timestamp (datetime with tz) -> microseconds since the epoch."""
    import datetime as dt
    d = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def check_tables(input_files: list[Path], bronze: list[dict], quarantine: list[dict]):
    """Asserts that bronze holds exactly the valid records of input_files (each once, with
    the same typed values) and quarantine exactly the invalid ones with their reasons.
    The future-timestamp rule uses each row's own ingest_time as 'now'."""
    import collections
    seen = collections.Counter((r["source_file"], r["source_line"]) for r in bronze)
    dups = [k for k, c in seen.items() if c > 1]
    assert not dups, f"{len(dups)} records in bronze more than once, e.g. {dups[:5]}"
    qseen = collections.Counter((r["file"], r["line"]) for r in quarantine)
    qdups = [k for k, c in qseen.items() if c > 1]
    assert not qdups, f"{len(qdups)} records in quarantine more than once, e.g. {qdups[:5]}"
    by_file = collections.defaultdict(dict)
    for r in bronze:
        by_file[r["source_file"]][r["source_line"]] = r
    qby_file = collections.defaultdict(dict)
    for r in quarantine:
        qby_file[r["file"]][r["line"]] = r
    names = {p.name for p in input_files}
    assert set(by_file) <= names, f"bronze rows from unknown files {set(by_file) - names}"
    assert set(qby_file) <= names, f"quarantine rows from unknown files {set(qby_file) - names}"
    for p in input_files:
        rows, qrows = by_file.get(p.name, {}), qby_file.get(p.name, {})
        times = [ts_us(r["ingest_time"]) for r in list(rows.values()) + list(qrows.values())]
        now = max(times) if times else 0
        valid, invalid = expect_file(p, now)
        assert set(rows) == set(valid), (
            f"{p.name}: bronze lines differ: missing {sorted(set(valid) - set(rows))[:10]}, "
            f"extra {sorted(set(rows) - set(valid))[:10]}")
        assert set(qrows) == set(invalid), (
            f"{p.name}: quarantine lines differ: missing {sorted(set(invalid) - set(qrows))[:10]}, "
            f"extra {sorted(set(qrows) - set(invalid))[:10]}")
        for n, want in valid.items():
            got = rows[n]
            for k in ("event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "unit", "seq",
                      "converted_from_f"):
                assert got[k] == want[k], f"{p.name}:{n} {k}: {got[k]!r} != {want[k]!r}"
            assert math.isclose(got["value"], want["value"], rel_tol=1e-12, abs_tol=1e-12), f"{p.name}:{n} value"
            assert ts_us(got["event_time"]) == want["event_time_us"], f"{p.name}:{n} event_time"
            assert (got["battery_pct"] is None) == (want["battery_pct"] is None), f"{p.name}:{n} battery_pct"
        for n, reason in invalid.items():
            assert qrows[n]["reason"] == reason, f"{p.name}:{n} reason {qrows[n]['reason']!r} != {reason!r}"
            assert qrows[n]["source"] == f"file:{p.name}:{n}"


def processed_names(ckpt: Path) -> list[str]:
    """Names recorded in <checkpoint>/processed (complete lines only)."""
    p = Path(ckpt) / "processed"
    if not p.exists():
        return []
    out = []
    for line in p.read_bytes().split(b"\n"):
        try:
            out.append(json.loads(line)["name"])
        except (ValueError, KeyError):
            pass
    return out


def wait_for(cond, timeout: float, what: str, proc=None):
    """Polls cond() every 0.1 s until true; fails with `what` after timeout (or if proc died)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"smarttech bronze exited {proc.returncode} while waiting for {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
