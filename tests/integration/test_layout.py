"""Issue 12: the module boundaries of src/ hold (a grep of the sources, no build needed).

  - each external library is called from its one module only: librdkafka from src/kafka, libmosquitto
    from src/mqtt, libmicrohttpd from src/http, libcurl from the S3 backend (src/store) and the
    dashboard's scraper (src/dash);
  - src/delta and src/parquet make no file-system call and use no util/fsutil helper: every access to
    table data goes through the storage layer (src/store);
  - no library code calls exit(): only src/cli decides how the process ends.
"""
from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

SRC = REPO / "src"


def sources(*folders: str):
    for folder in folders or ("",):
        for p in sorted((SRC / folder).rglob("*")):
            if p.suffix in (".c", ".h"):
                yield p


def code_of(p: Path) -> str:
    """The file without its comments and string literals (what a call could be)."""
    text = p.read_text(errors="replace")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def offenders(pattern: str, allowed: tuple[str, ...], folders: tuple[str, ...] = ()) -> list[str]:
    rx = re.compile(pattern)
    out = []
    for p in sources(*folders):
        rel = str(p.relative_to(SRC))
        if rel.startswith(allowed):
            continue
        for n, line in enumerate(code_of(p).splitlines(), 1):
            if rx.search(line):
                out.append(f"src/{rel}:{n}: {line.strip()[:120]}")
    return out


def test_sources_are_there():
    assert len(list(sources())) > 100


def test_each_library_is_called_from_its_module_only():
    for pattern, allowed in ((r"\brd_kafka_\w+", ("kafka/",)),
                             (r"\bmosquitto_\w+\s*\(", ("mqtt/",)),
                             (r"\bMHD_\w+", ("http/",)),
                             (r"\bcurl_\w+\s*\(", ("store/", "dash/"))):
        bad = offenders(pattern, allowed)
        assert not bad, f"{pattern} outside {allowed}:\n" + "\n".join(bad[:20])


def test_delta_and_parquet_reach_files_through_the_storage_layer():
    calls = r"\b(fopen|fdopen|open|openat|creat|link|linkat|rename|renameat|unlink|unlinkat|opendir|readdir|mkdir|" \
            r"rmdir|fsync|stat|lstat|truncate|ftruncate)\s*\("
    bad = offenders(calls, (), ("delta", "parquet")) + offenders(r"\bst_fs_\w+|util/fsutil\.h", (), ("delta", "parquet"))
    assert not bad, "file-system calls in delta/ or parquet/:\n" + "\n".join(bad[:20])


def test_no_exit_outside_the_cli():
    bad = offenders(r"\b(_?exit|_Exit|quick_exit)\s*\(", ("cli/",))
    assert not bad, "exit() in library code:\n" + "\n".join(bad[:20])
