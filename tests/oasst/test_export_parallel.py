"""Exports read or rendered in parallel write exactly what one reader in one thread writes."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from core import oasst_export
from core.oasst_export import ExportOptions, crc32_combine, export
from core.oasst_import import import_file
from tests.oasst.helpers import ALL, OASST2, by_tree, read_lines

OPTIONS = [
    pytest.param(ExportOptions(**ALL), id="all"),
    pytest.param(ExportOptions(**ALL, format="messages"), id="messages"),
    pytest.param(ExportOptions(), id="default-filters"),
    pytest.param(ExportOptions(state="all", lang="es", include_deleted=True), id="lang-deleted"),
    pytest.param(ExportOptions(**ALL, anonymize="s3cret"), id="anonymized"),
    pytest.param(ExportOptions(**ALL, events=True), id="events"),
]


@pytest.fixture
async def sample(db):
    await import_file(db, OASST2)
    return db


@pytest.mark.parametrize("opts", OPTIONS)
async def test_processes_write_what_one_thread_writes(sample, tmp_path, monkeypatch, opts):
    if not sample.is_sqlite:
        pytest.skip("rendering processes are SQLite's path")
    monkeypatch.setattr(oasst_export, "CHUNK_TREES", 37)  # many chunks, a short last one
    one = tmp_path / "one.jsonl"
    expected = await export(sample, one, opts, processes=0)
    assert expected.trees > 0
    for n in (1, 2, 3):
        ticks: list[tuple[int, int]] = []
        out = tmp_path / f"p{n}.jsonl"
        report = await export(sample, out, opts, processes=n, progress=lambda d, t: ticks.append((d, t)))
        assert out.read_bytes() == one.read_bytes(), n
        assert (report.trees, report.messages) == (expected.trees, expected.messages)
        assert ticks and ticks[-1][0] == ticks[-1][1] and [d for d, _ in ticks] == sorted(d for d, _ in ticks)


async def test_processes_gzip_one_stream(sample, tmp_path, monkeypatch):
    """Chunks compressed apart make one gzip member whose CRC and size gzip itself checks."""
    if not sample.is_sqlite:
        pytest.skip("rendering processes are SQLite's path")
    monkeypatch.setattr(oasst_export, "CHUNK_TREES", 50)
    plain, gz = tmp_path / "out.jsonl", tmp_path / "out.jsonl.gz"
    await export(sample, plain, ExportOptions(**ALL), processes=0)
    await export(sample, gz, ExportOptions(**ALL), processes=2)
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    assert d.decompress(gz.read_bytes()) == plain.read_bytes() and d.eof and not d.unused_data  # one member
    assert by_tree(read_lines(gz)) == by_tree(read_lines(OASST2))


async def test_several_postgres_readers_write_what_one_writes(sample, tmp_path, monkeypatch):
    if sample.is_sqlite:
        pytest.skip("the parallel readers are PostgreSQL's path")
    monkeypatch.setattr(oasst_export, "CHUNK_TREES", 37)
    for opts in (ExportOptions(**ALL), ExportOptions(**ALL, events=True, format="messages")):
        monkeypatch.setattr(oasst_export, "PG_READERS", 1)
        one = tmp_path / "one.jsonl"
        expected = await export(sample, one, opts)
        monkeypatch.setattr(oasst_export, "PG_READERS", 3)
        many = tmp_path / "many.jsonl"
        report = await export(sample, many, opts)
        assert many.read_bytes() == one.read_bytes()
        assert (report.trees, report.messages) == (expected.trees, expected.messages)


def test_crc32_combine_matches_zlib():
    rnd = random.Random(3)
    for _ in range(200):
        a = rnd.randbytes(rnd.choice([0, 1, 7, 100, 5000]))
        b = rnd.randbytes(rnd.choice([0, 1, 3, 64, 70000]))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
