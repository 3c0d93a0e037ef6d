"""`pip install .` builds the `rnn_layers` distribution without warnings, with its metadata."""

import subprocess
import sys
import zipfile

import rnn_layers
from tests.experiments.runner_helpers import REPO_ROOT


def test_the_wheel_builds_without_warnings_and_carries_version_and_license(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            str(REPO_ROOT),
            "--no-deps",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    # -v shows the build backend's output, where setuptools writes its deprecation warnings.
    assert "Warning" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("vanilla_rnn_lab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        license_files = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert len(license_files) == 1
        assert "Apache License" in archive.read(license_files[0]).decode()[:200]
        assert archive.namelist() and all(
            n.startswith(("rnn_layers/", "vanilla_rnn_lab-")) for n in archive.namelist()
        )
    assert f"Version: {rnn_layers.__version__}\n" in text
    assert "License-Expression: Apache-2.0\n" in text
    assert "License-File: LICENSE\n" in text
