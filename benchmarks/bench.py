"""Side-by-side timings of VanillaRNN, Keras SimpleRNN and PyTorch nn.RNN.

Every candidate gets the same weights and the same batch. After warm-up
(compilation), the candidates are timed in alternation, round after round,
with the starting candidate rotated each round, so that a slow spell of the
machine hits them all alike; we report medians over the rounds.

A training step is forward + backward + Adam update of RNN -> Dense(1) on the
last output with an MSE loss (`train_on_batch` for Keras, the usual
zero_grad/backward/step for PyTorch); an inference pass is
`predict_on_batch` (`torch.no_grad()` forward for PyTorch).
"""

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from benchmarks.torch_peer import TorchPeer, torch_available
from rnn_layers import DeepVanillaRNN, VanillaRNN


@dataclass(frozen=True)
class Size:
    name: str
    batch: int
    timesteps: int
    features: int
    units: int
    layers: int = 1

    def label(self):
        text = f"B={self.batch} T={self.timesteps} D={self.features} H={self.units}"
        return text + (f" x{self.layers} layers" if self.layers > 1 else "")

    def train_flop(self):
        """Matrix-product FLOP of one training step (elementwise work ignored).

        Per layer: forward x·U (2BTDH) and h·W (2BTH²); backward the
        recurrent gradient g·Wᵀ (2BTH²), dW (2BTH²) and dU (2BTDH). Layers
        above the first also pass a gradient to their input (2BTDH).
        """
        total, features = 0, self.features
        for layer in range(self.layers):
            b_t_h = self.batch * self.timesteps * self.units
            total += 6 * b_t_h * self.units + 4 * b_t_h * features
            if layer > 0:
                total += 2 * b_t_h * features
            features = self.units
        return total

    def inference_flop(self):
        total, features = 0, self.features
        for _ in range(self.layers):
            b_t_h = self.batch * self.timesteps * self.units
            total += 2 * b_t_h * self.units + 2 * b_t_h * features
            features = self.units
        return total


CPU_SIZES = (
    Size("small", 64, 100, 2, 64),
    Size("long", 64, 1000, 2, 128),
    Size("wide", 256, 100, 32, 256),
    Size("deep3", 64, 100, 2, 64, layers=3),
)
# Sizes for a GPU: long sequences and a wide layer (input width 32, as in the wide CPU size).
GPU_SIZES = (
    Size("gpu_long", 256, 1000, 32, 256),
    Size("gpu_wide", 1024, 100, 32, 512),
)
ALL_SIZES = {size.name: size for size in CPU_SIZES + GPU_SIZES}


# ---------------------------------------------------------------- candidates
class KerasCandidate:
    """A compiled Keras model RNN -> Dense(1) and its input batch."""

    def __init__(self, name, size, rnn_kind, jit_compile, x, y):
        self.name = name
        inputs = keras.Input((size.timesteps, size.features))
        if rnn_kind == "vanilla":
            if size.layers == 1:
                hidden = VanillaRNN(size.units)(inputs)
            else:
                hidden = DeepVanillaRNN(size.units, num_layers=size.layers)(inputs)
        else:
            hidden = inputs
            for layer in range(size.layers):
                last = layer == size.layers - 1
                hidden = keras.layers.SimpleRNN(size.units, return_sequences=not last)(hidden)
        self.model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        self.model.compile(keras.optimizers.Adam(1e-4), "mse", jit_compile=jit_compile)
        self.x = keras.ops.convert_to_tensor(x)
        self.y = keras.ops.convert_to_tensor(y)

    def set_weights(self, weights):
        self.model.set_weights(weights)

    def train_step(self):
        self.model.train_on_batch(self.x, self.y)

    def inference(self):
        self.model.predict_on_batch(self.x)

    def output(self):
        return np.asarray(self.model.predict_on_batch(self.x))

    def timed(self, method, count):
        """(wall, CPU) seconds for `count` calls (Keras returns NumPy values:
        synchronous). CPU time is of the whole process, all threads."""
        function = getattr(self, method)
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            function()
        return time.perf_counter() - start, time.process_time() - start_cpu

    def close(self):
        pass


def make_candidates(size, include_torch, torch_device, torch_threads=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size.batch, size.timesteps, size.features)).astype("float32")
    y = rng.normal(size=(size.batch, 1)).astype("float32")
    tensorflow = keras.backend.backend() == "tensorflow"
    deep = " x3" if size.layers > 1 else ""
    vanilla = "DeepVanillaRNN" if size.layers > 1 else "VanillaRNN"
    specs = []
    if tensorflow:
        # jit_compile=True is what the experiment runner uses.
        specs += [
            (f"{vanilla}+XLA", "vanilla", True),
            (vanilla, "vanilla", False),
            (f"SimpleRNN{deep}", "simple", "auto"),
            (f"SimpleRNN{deep}+XLA", "simple", True),
        ]
    else:
        # JAX compiles everything with XLA anyway.
        specs += [(vanilla, "vanilla", True), (f"SimpleRNN{deep}", "simple", True)]
    keras.utils.set_random_seed(seed)
    candidates = [KerasCandidate(name, size, kind, jit, x, y) for name, kind, jit in specs]
    # Same weights everywhere: those of the first model. SimpleRNN needs a
    # random bias too (its default is zeros) for the check to mean anything.
    weights = candidates[0].model.get_weights()
    weights = [
        w if w.ndim > 1 else rng.normal(scale=0.1, size=w.shape).astype("float32") for w in weights
    ]
    for candidate in candidates:
        candidate.set_weights(weights)
    if include_torch and torch_available():
        candidates.append(TorchPeer(size, x, y, weights, torch_device, torch_threads))
    return candidates, weights


def check_same_outputs(candidates, tolerance=1e-3, log=print):
    """All candidates compute the same function (guards the benchmark).

    On a GPU, TF32 matrix products (PyTorch's and XLA's default there) round
    to about 1e-3 per product, so there a difference is only reported.
    """
    reference = candidates[0].output()
    on_gpu = any(getattr(c, "info", {}).get("gpu") for c in candidates)
    for candidate in candidates[1:]:
        difference = float(np.abs(candidate.output() - reference).max())
        if difference > tolerance:
            message = f"{candidate.name} differs from {candidates[0].name} by {difference:.2e}"
            if not on_gpu:
                raise RuntimeError(message)
            log(f"note: {message} (TF32 on GPU)")


# ---------------------------------------------------------------- timing
def time_alternating(candidates, method, rounds, warmup, min_seconds=0.05):
    """Median seconds per call of `method` for each candidate, alternating."""
    for candidate in candidates:
        if warmup:
            candidate.timed(method, warmup)
    # Calls per sample so that one sample lasts about min_seconds.
    calls = {}
    for candidate in candidates:
        elapsed, _ = candidate.timed(method, 1)
        calls[candidate.name] = max(1, min(20, int(min_seconds / max(elapsed, 1e-6))))
    samples = {candidate.name: [] for candidate in candidates}
    cpu_samples = {candidate.name: [] for candidate in candidates}
    for round_index in range(rounds):
        shift = round_index % len(candidates)
        for candidate in candidates[shift:] + candidates[:shift]:
            count = calls[candidate.name]
            wall, cpu = candidate.timed(method, count)
            samples[candidate.name].append(wall / count)
            cpu_samples[candidate.name].append(cpu / count)
    # Wall time is what counts; CPU time (all threads of the process) is
    # steadier when other work shares the machine, so it is kept beside.
    return {
        name: {
            "median_ms": 1e3 * float(np.median(values)),
            "q1_ms": 1e3 * float(np.percentile(values, 25)),
            "q3_ms": 1e3 * float(np.percentile(values, 75)),
            "min_ms": 1e3 * float(np.min(values)),
            "cpu_median_ms": 1e3 * float(np.median(cpu_samples[name])),
            "samples": len(values),
            "calls_per_sample": calls[name],
        }
        for name, values in samples.items()
    }


def matmul_rate(n=2048, repeats=5):
    """GFLOP/s of an n×n float32 matrix product through keras.ops."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(n, n)).astype("float32"))
    b = keras.ops.convert_to_tensor(rng.normal(size=(n, n)).astype("float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0])
        durations.append(time.perf_counter() - start)
    return 2 * n**3 / float(np.median(durations)) / 1e9


# ---------------------------------------------------------------- machine
def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    gpu = None
    if backend == "jax":
        import jax

        devices = [d for d in jax.devices() if d.platform != "cpu"]
        gpu = devices[0].device_kind if devices else None
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "backend": backend,
        "versions": versions,
        "load_average": os.getloadavg(),
    }


# ---------------------------------------------------------------- driver
def run(sizes, rounds, warmup, include_torch, torch_device, out_dir, torch_threads=None, log=print):
    results = {
        "machine": machine_info(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results["matmul_gflops"] = matmul_rate()
    log(
        f"{results['machine']['cpu']} | backend {results['machine']['backend']} | "
        f"{results['machine']['versions']} | load {results['machine']['load_average']}"
    )
    log(f"float32 2048x2048 matmul: {results['matmul_gflops']:.1f} GFLOP/s")
    results["sizes"] = []
    for size in sizes:
        log(f"\n== {size.name}: {size.label()} ==")
        candidates, _ = make_candidates(size, include_torch, torch_device, torch_threads)
        try:
            check_same_outputs(candidates)
            train = time_alternating(candidates, "train_step", rounds, warmup)
            inference = time_alternating(candidates, "inference", rounds, warmup)
        finally:
            for candidate in candidates:
                candidate.close()
        entry = {"size": asdict(size), "label": size.label(), "candidates": []}
        for candidate in candidates:
            if isinstance(candidate, TorchPeer):
                entry["torch"] = candidate.info
                results["machine"]["versions"]["torch"] = candidate.info["torch"]
                if "gpu" in candidate.info:
                    results["machine"]["gpu"] = candidate.info["gpu"]
        for candidate in candidates:
            name = candidate.name
            entry["candidates"].append(
                {
                    "name": name,
                    "train": train[name],
                    "inference": inference[name],
                    "train_gflops": size.train_flop() / (train[name]["median_ms"] * 1e6),
                    "inference_gflops": size.inference_flop()
                    / (inference[name]["median_ms"] * 1e6),
                }
            )
        add_ratios(entry)
        results["sizes"].append(entry)
        log(format_size_table(entry, results["matmul_gflops"]))
        del candidates
        keras.backend.clear_session()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["load_average_end"] = os.getloadavg()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{results['machine']['backend']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    log(f"\nwrote {path}")
    return results, path


def add_ratios(entry):
    """Ratios of each candidate to SimpleRNN default and to the fastest peer."""
    by_name = {c["name"]: c for c in entry["candidates"]}
    simple_default = next(
        c
        for c in entry["candidates"]
        if c["name"].startswith("SimpleRNN") and "XLA" not in c["name"]
    )
    peers = [c for c in entry["candidates"] if "Vanilla" not in c["name"]]
    for phase in ("train", "inference"):
        fastest = min(peers, key=lambda c: c[phase]["median_ms"])
        entry[f"fastest_peer_{phase}"] = fastest["name"]
        fastest_cpu = min(peers, key=lambda c: c[phase]["cpu_median_ms"])
        for candidate in by_name.values():
            ms = candidate[phase]["median_ms"]
            candidate[f"{phase}_vs_simple_default"] = ms / simple_default[phase]["median_ms"]
            candidate[f"{phase}_vs_fastest_peer"] = ms / fastest[phase]["median_ms"]
            cpu_ms = candidate[phase]["cpu_median_ms"]
            candidate[f"{phase}_cpu_vs_simple_default"] = (
                cpu_ms / simple_default[phase]["cpu_median_ms"]
            )
            candidate[f"{phase}_cpu_vs_fastest_peer"] = cpu_ms / fastest_cpu[phase]["cpu_median_ms"]


def format_size_table(entry, matmul_gflops):
    lines = [
        "| candidate | train ms (median) | vs SimpleRNN | vs fastest peer "
        "| train GFLOP/s (% of matmul) "
        "| train CPU ms (vs SimpleRNN, vs fastest) | inference ms | vs fastest peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in entry["candidates"]:
        lines.append(
            f"| {c['name']} | {c['train']['median_ms']:.2f} | {c['train_vs_simple_default']:.2f}x "
            f"| {c['train_vs_fastest_peer']:.2f}x | {c['train_gflops']:.1f} "
            f"({100 * c['train_gflops'] / matmul_gflops:.0f}%) "
            f"| {c['train']['cpu_median_ms']:.1f} ({c['train_cpu_vs_simple_default']:.2f}x, "
            f"{c['train_cpu_vs_fastest_peer']:.2f}x) "
            f"| {c['inference']['median_ms']:.2f} | {c['inference_vs_fastest_peer']:.2f}x |"
        )
    lines.append(
        f"fastest peer: train {entry['fastest_peer_train']}, "
        f"inference {entry['fastest_peer_inference']}"
    )
    return "\n".join(lines)
