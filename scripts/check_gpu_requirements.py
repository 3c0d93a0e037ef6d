"""Checks that requirements-gpu.txt resolves together with requirements.txt, every pin kept.

pip resolves both files without installing anything (`--dry-run --report`, which reads
the packages' metadata from PyPI, not their multi-GB CUDA wheels); this script then
compares what pip would install with every `name==version` pin of requirements.txt.

Usage (what `make check-gpu-requirements` runs):  .venv/bin/python scripts/check_gpu_requirements.py
"""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)")


def pins(path):
    """`{normalised name: version}` of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[normalise(match.group(1))] = match.group(3)
    return found


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def main():
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        "--report",
        "-",
        "-r",
        str(ROOT / "requirements.txt"),
        "-r",
        str(ROOT / "requirements-gpu.txt"),
    ]
    resolved = subprocess.run(command, capture_output=True, text=True)
    if resolved.returncode != 0:
        print(resolved.stderr.strip().splitlines()[-1], file=sys.stderr)
        print("error: requirements-gpu.txt does not resolve with requirements.txt", file=sys.stderr)
        return 1
    report = json.loads(resolved.stdout)
    chosen = {normalise(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}
    changed = {
        name: (version, chosen.get(name))
        for name, version in pins(ROOT / "requirements.txt").items()
        if chosen.get(name) != version
    }
    cuda = sorted(name for name in chosen if name.startswith("nvidia-"))
    if changed:
        print(
            f"error: resolving with requirements-gpu.txt changes pins: {changed}", file=sys.stderr
        )
        return 1
    print(
        f"requirements-gpu.txt resolves with requirements.txt: {len(chosen)} packages, every pin "
        f"kept; CUDA libraries: {', '.join(f'{n}=={chosen[n]}' for n in cuda)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
