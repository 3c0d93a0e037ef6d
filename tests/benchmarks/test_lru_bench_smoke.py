"""benchmarks/lru_bench.py runs end to end on tiny sizes (its figures are not checked here:
timings belong in `make bench-lru`), and its guards work."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from benchmarks import lru_bench

TINY = ["--lengths", "3,5", "--batch", "2", "--features", "2", "--units", "3"]
# The two scans and the reference; SimpleRNN and GRU are plain Keras layers.
FEW = ["--candidates", "LRU parallel,LRU sequential,VanillaRNN"]


def test_lru_bench_writes_medians_and_ratios_to_the_reference(tmp_path):
    lines = []
    argv = [*TINY, *FEW, "--rounds", "1", "--warmup", "0", "--no-xla", "--out", str(tmp_path)]
    entries, path = lru_bench.main(argv, log=lines.append)
    saved = json.loads(path.read_text())
    assert [entry["timesteps"] for entry in saved["lengths"]] == [3, 5]
    for entry in saved["lengths"]:
        names = [c["name"] for c in entry["candidates"]]
        assert names == ["LRU parallel", "LRU sequential", "VanillaRNN"]
        ratios = {c["name"]: c["vs_reference"] for c in entry["candidates"]}
        assert ratios["VanillaRNN"] == pytest.approx(1.0)
        assert all(
            c["train"]["median_ms"] > 0 and c["first_call_s"] > 0 for c in entry["candidates"]
        )
    table = [line for line in lines if line.startswith("|")]
    assert table[0].startswith("| L | LRU parallel ms |") and len(table) == 2 + 2


def test_lru_bench_refuses_scans_that_differ_and_bad_arguments():
    class Fixed:
        def __init__(self, name, value):
            self.name, self.x = name, None
            self.model = type("M", (), {"predict_on_batch": lambda _, x: np.full((2, 1), value)})()

    lru_bench.check_scans_agree([Fixed("LRU parallel", 0.0), Fixed("LRU sequential", 0.0)])
    with pytest.raises(RuntimeError, match="the LRU's two scans differ"):
        lru_bench.check_scans_agree([Fixed("LRU parallel", 0.0), Fixed("LRU sequential", 0.1)])
    with pytest.raises(SystemExit):
        lru_bench.parse_args(["--candidates", "GRU,LSTM"])
    with pytest.raises(SystemExit):
        lru_bench.parse_args(["--candidates", "GRU", "--reference", "VanillaRNN"])
