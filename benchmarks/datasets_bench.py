"""Benchmark: how fast the synthetic tasks generate data.

Run from the repository root: `python benchmarks/datasets_bench.py`
(`--quick` for a 10x smaller run).

For each task it generates 100,000 sequences of 1,000 steps in chunks (the
one-hot tasks would need 3-4 GB in one piece) and reports wall time, the
peak memory traced by `tracemalloc` during one chunk, and the size the full
set would have as a single array; for the tasks whose full set is small it
also times one unchunked call. Then it measures the streamed pipeline
(`task.dataset`) in batches of 64 per second, calling `__getitem__` as Keras
does with one worker.
"""

import argparse
import os
import sys
import time
import tracemalloc

# Quiet TensorFlow start-up (the stream imports Keras).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import datasets  # noqa: E402

STEPS = 1000
# `length` giving 1,000-step sequences (the dial differs per task).
SETTINGS = {
    "delayed_recall": dict(length=500, sequence_length=STEPS),
    "adding": dict(length=STEPS),
    "copy_memory": dict(length=STEPS - 20),
    "first_symbol": dict(length=STEPS - 1),
    "ewma": dict(length=STEPS),
    "temporal_order": dict(length=STEPS),
}
ONE_PIECE_LIMIT = 1.0e9  # bytes: also time an unchunked call below this size


def measure(task, n, seed):
    """Seconds and traced peak bytes of `task.sample(n, seed)`; returns the arrays' bytes too."""
    tracemalloc.start()
    start = time.perf_counter()
    x, y = task.sample(n, seed=seed)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, x.nbytes + y.nbytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 sequences instead of 100,000")
    parser.add_argument("--chunk", type=int, default=10_000, help="sequences per chunk")
    parser.add_argument("--stream-batches", type=int, default=200)
    args = parser.parse_args()
    total = 10_000 if args.quick else 100_000
    chunk = min(args.chunk, total)

    print(f"Generating {total:,} sequences x {STEPS} steps, chunks of {chunk:,}\n")
    header = (
        "| task | D | full set (GB) | chunked time (s) | seq/s | peak per chunk (MB) "
        "| one piece time (s) | one piece peak (GB) | stream batches/s (B=64) |"
    )
    print(header)
    print("|" + "|".join(["---"] * 9) + "|")
    for name, settings in SETTINGS.items():
        task = datasets.make(name, **settings)
        assert task.timesteps == STEPS, (name, task.timesteps)
        chunked_seconds, chunk_peak, chunk_bytes = 0.0, 0, 0
        for i in range(total // chunk):
            seconds, peak, nbytes = measure(task, chunk, seed=i)
            chunked_seconds += seconds
            chunk_peak = max(chunk_peak, peak)
            chunk_bytes = nbytes
        full_bytes = chunk_bytes * (total // chunk)
        if full_bytes <= ONE_PIECE_LIMIT:
            one_seconds, one_peak, _ = measure(task, total, seed=999)
            one_piece = f"{one_seconds:.2f} | {one_peak / 1e9:.2f}"
        else:
            one_piece = "- | -"

        stream = task.dataset(batch_size=64, steps_per_epoch=args.stream_batches, seed=0)
        stream[0]  # warm up
        start = time.perf_counter()
        for index in range(len(stream)):
            stream[index]
        batches_per_second = len(stream) / (time.perf_counter() - start)
        print(
            f"| {name} | {task.input_dim} | {full_bytes / 1e9:.2f} | {chunked_seconds:.2f} "
            f"| {total / chunked_seconds:,.0f} | {chunk_peak / 1e6:.0f} | {one_piece} "
            f"| {batches_per_second:,.0f} |"
        )


if __name__ == "__main__":
    main()
