"""What every lesson sets up first, in one place: its first code cell is

    from lesson import FAST, OUT_DIR, PROFILE, REPO_ROOT

which puts the repository on the import path (so `rnn_layers`, `datasets` and
`experiments` import from the checkout), imports TensorFlow without its C++ start-up
notices, and says where figures go and how big the budgets are. A lesson run as a script
(`python tutorials/01_the_recurrence.py`) finds this file beside it; a lesson run as a
notebook finds it through the kernel `make notebooks` registers, whose import path
holds this folder.

- `OUT_DIR`: where figures and results go: `$VRL_TUTORIAL_OUT`, default `tutorials/out/`.
- `FAST`: `VRL_TUTORIAL_FAST=1` (the tests set it) shrinks the budgets; every claim a
  lesson checks holds in both.
- `PROFILE`: the profile of the experiments a lesson runs: `smoke` in fast mode, else
  `$VRL_TUTORIAL_PROFILE` (default `quick`).
"""

import os
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from experiments.terminal import import_tensorflow  # noqa: E402  (after the path is set)

import_tensorflow()  # without its C++ start-up notices (oneDNN, CUDA probing)

OUT_DIR = pathlib.Path(os.environ.get("VRL_TUTORIAL_OUT", REPO_ROOT / "tutorials" / "out"))
OUT_DIR.mkdir(parents=True, exist_ok=True)
FAST = os.environ.get("VRL_TUTORIAL_FAST") == "1"
PROFILE = "smoke" if FAST else os.environ.get("VRL_TUTORIAL_PROFILE", "quick")
