"""Training-step time of the LinearRecurrentUnit's two scans against VanillaRNN, SimpleRNN and GRU.

For each sequence length, every candidate is a compiled Keras model recurrent layer -> Dense(1)
on the last output with an MSE loss, and one training step (`train_on_batch`: forward, backward,
Adam update) is timed; the candidates alternate round after round (benchmarks/bench.py's
`time_alternating`), so a slow spell of the machine hits them all alike. Ratios are against
the reference candidate (VanillaRNN by default) measured in the same run.

The recurrent layers get the same input width D and the same state size (H units; N complex
values for the LRU, whose output is D wide, as in the paper).

Examples:
    python -m benchmarks.lru_bench                          # L = 100, 1000, 4000 on this CPU
    python -m benchmarks.lru_bench --lengths 100 --rounds 3
    KERAS_BACKEND=jax python -m benchmarks.lru_bench --batch 256 --units 256   # on a GPU
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.bench import machine_info, time_alternating  # noqa: E402
from rnn_layers import LinearRecurrentUnit, VanillaRNN  # noqa: E402

CANDIDATES = {
    "LRU parallel": lambda units: LinearRecurrentUnit(units, scan="parallel"),
    "LRU sequential": lambda units: LinearRecurrentUnit(units, scan="sequential"),
    "VanillaRNN": lambda units: VanillaRNN(units),
    "SimpleRNN": lambda units: keras.layers.SimpleRNN(units),
    "GRU": lambda units: keras.layers.GRU(units),
}


class Candidate:
    """A compiled model layer -> Dense(1), its batch, and its compile time."""

    def __init__(self, name, timesteps, features, units, x, y, jit_compile):
        self.name = name
        keras.utils.set_random_seed(0)
        inputs = keras.Input((timesteps, features))
        hidden = CANDIDATES[name](units)(inputs)
        self.model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        self.model.compile(keras.optimizers.Adam(1e-4), "mse", jit_compile=jit_compile)
        self.x, self.y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        start = time.perf_counter()
        self.train_step()
        self.first_call_s = time.perf_counter() - start

    def train_step(self):
        self.model.train_on_batch(self.x, self.y)

    def timed(self, method, count):
        function = getattr(self, method)
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            function()
        return time.perf_counter() - start, time.process_time() - start_cpu


def check_scans_agree(candidates):
    """The two LRU models, built from the same seed, give the same outputs (guards the run)."""
    lru = [c for c in candidates if c.name.startswith("LRU")]
    if len(lru) == 2:
        first, second = (np.asarray(c.model.predict_on_batch(c.x)) for c in lru)
        difference = float(np.abs(first - second).max())
        if difference > 1e-4:
            raise RuntimeError(f"the LRU's two scans differ by {difference:.2e}")


def measure(args, timesteps, log=print):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, timesteps, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    candidates = []
    for name in args.candidate_list:
        candidates.append(
            Candidate(name, timesteps, args.features, args.units, x, y, args.jit_compile)
        )
        seconds = candidates[-1].first_call_s
        log(f"  L={timesteps} {name}: first call (tracing, compiling) {seconds:.1f} s")
    check_scans_agree(candidates)
    timings = time_alternating(candidates, "train_step", args.rounds, args.warmup)
    reference = timings[args.reference]["median_ms"]
    return {
        "timesteps": timesteps,
        "candidates": [
            {
                "name": c.name,
                "first_call_s": c.first_call_s,
                "train": timings[c.name],
                "vs_reference": timings[c.name]["median_ms"] / reference,
            }
            for c in candidates
        ],
    }


def format_table(entries, reference):
    names = [c["name"] for c in entries[0]["candidates"]]
    lines = [
        "| L | " + " | ".join(f"{n} ms" for n in names) + f" | ratios to {reference} |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for entry in entries:
        cells = [f"{c['train']['median_ms']:.1f}" for c in entry["candidates"]]
        ratios = ", ".join(f"{c['name']} {c['vs_reference']:.2f}x" for c in entry["candidates"])
        lines.append(f"| {entry['timesteps']} | " + " | ".join(cells) + f" | {ratios} |")
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lru_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--lengths", default="100,1000,4000", help="comma-separated sequence lengths"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=64, help="input width D")
    parser.add_argument("--units", type=int, default=64, help="state size (H, or N complex)")
    parser.add_argument(
        "--candidates", default=",".join(CANDIDATES), help=f"among {', '.join(CANDIDATES)}"
    )
    parser.add_argument(
        "--reference", default="VanillaRNN", help="the candidate ratios are taken to"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls after the first")
    parser.add_argument(
        "--no-xla",
        dest="jit_compile",
        action="store_false",
        help="compile without XLA (TensorFlow)",
    )
    parser.add_argument("--out", default="benchmarks/out", help="folder of the JSON result")
    args = parser.parse_args(argv)
    args.length_list = [int(v) for v in args.lengths.split(",") if v.strip()]
    args.candidate_list = [v.strip() for v in args.candidates.split(",") if v.strip()]
    unknown = [name for name in args.candidate_list if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate(s) {unknown}; choose among {list(CANDIDATES)}")
    if args.reference not in args.candidate_list:
        parser.error(
            f"--reference {args.reference!r} is not among the candidates {args.candidate_list}"
        )
    if args.rounds < 1 or args.warmup < 0 or min(args.length_list, default=0) < 1:
        parser.error("--rounds and every length must be >= 1, --warmup >= 0")
    return args


def main(argv=None, log=print):
    args = parse_args(argv)
    machine = machine_info()
    load = os.getloadavg()[0]
    log(f"backend {keras.backend.backend()}; {machine.get('cpu', '')}; load average {load:.1f}")
    sizes = f"B={args.batch} D={args.features} H=N={args.units}"
    log(f"{sizes}, XLA={args.jit_compile}, {args.rounds} rounds")
    entries = [measure(args, timesteps, log) for timesteps in args.length_list]
    for line in format_table(entries, args.reference):
        log(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"lru-bench-{keras.backend.backend()}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    settings = {k: v for k, v in vars(args).items() if k not in ("length_list", "candidate_list")}
    path.write_text(
        json.dumps({"machine": machine, "settings": settings, "lengths": entries}, indent=1)
    )
    log(f"load average at the end {os.getloadavg()[0]:.1f}; wrote {path}")
    return entries, path


if __name__ == "__main__":
    main()
