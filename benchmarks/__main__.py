"""Command line of the benchmarks: `python -m benchmarks [--quick] [--sizes ...]`.

Examples:
    python -m benchmarks                 # every CPU size, full run
    python -m benchmarks --quick         # a short run (fewer rounds)
    python -m benchmarks --sizes small,deep3 --rounds 30
    KERAS_BACKEND=jax python -m benchmarks --sizes gpu_long,gpu_wide --torch-device cuda
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    # Imported here, not at the top: the PyTorch peer's child process
    # re-imports this module and must not load Keras or TensorFlow.
    from benchmarks.bench import ALL_SIZES, CPU_SIZES

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time VanillaRNN against keras SimpleRNN (and torch nn.RNN) side by side.",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(size.name for size in CPU_SIZES),
        help=f"comma-separated names among {', '.join(ALL_SIZES)} (default: the CPU sizes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run: 5 rounds, 1 warm-up call"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="timing rounds per candidate (default 21, quick 5)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed calls after compiling (default 3, quick 1)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="leave PyTorch out even when installed"
    )
    parser.add_argument(
        "--torch-device", default="cpu", choices=["cpu", "cuda"], help="device of the PyTorch peer"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="threads of the PyTorch peer (default: its own)",
    )
    parser.add_argument("--out", default="benchmarks/out", help="folder of the JSON result")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.sizes.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose among {sorted(ALL_SIZES)}")
    args.size_list = [ALL_SIZES[name] for name in names]
    if args.rounds is None:
        args.rounds = 5 if args.quick else 21
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be >= 1 and --warmup >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    from benchmarks.bench import run

    run(
        args.size_list,
        rounds=args.rounds,
        warmup=args.warmup,
        include_torch=not args.no_torch,
        torch_device=args.torch_device,
        out_dir=args.out,
        torch_threads=args.torch_threads,
    )


if __name__ == "__main__":
    main()
