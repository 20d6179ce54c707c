"""The benchmark's own arithmetic and its memory sampler (the figures themselves are not tested)."""

from __future__ import annotations

import subprocess
import sys

from bench.memory import PeakRss
from bench.run import Size


def test_peak_rss_sees_a_child_that_holds_memory() -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; block = bytearray(200 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(3)",
        ]
    )
    sampler = PeakRss(holder.pid)
    holder.wait()
    peak = sampler.stop()
    assert peak.process_bytes >= 200 * 2**20
    assert peak.tree_bytes >= peak.process_bytes


def test_peak_rss_counts_the_whole_tree() -> None:
    script = (
        "import subprocess, sys, time;"
        "child = 'import time; b = bytearray(150 * 2**20); b[::4096] = bytes(len(b[::4096])); time.sleep(3)';"
        "p = subprocess.Popen([sys.executable, '-c', child]);"
        "b = bytearray(150 * 2**20); b[::4096] = bytes(len(b[::4096])); p.wait()"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    sampler = PeakRss(parent.pid)
    parent.wait()
    peak = sampler.stop()
    assert peak.tree_bytes >= 300 * 2**20 > peak.process_bytes


def test_sizes_round_shards_up() -> None:
    assert (Size(100_000, 5000).shards, Size(10_000, 5000).shards, Size(12_001, 5000).shards) == (20, 2, 3)
