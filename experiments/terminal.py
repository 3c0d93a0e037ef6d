"""What the runner writes to the terminal: lines at once, durations, and TensorFlow
without its start-up chatter.

`print_now` writes a line flushed (also through a pipe), `format_seconds` a duration.

On import and on first touching its devices, TensorFlow's C++ code writes lines such as
"oneDNN custom operations are on", "Could not find cuda drivers on your machine" and, on
a machine without a GPU, "failed call to cuInit: ... CUDA error". They go straight to
file descriptor 2, before absl's logging is set up, so `TF_CPP_MIN_LOG_LEVEL` does not
stop them. `import_tensorflow()` imports TensorFlow and lists its devices with that
descriptor pointed at a temporary file, then writes back every captured line that is not
one of these known start-up notices: errors and anything unexpected still reach the
terminal.
"""

import contextlib
import glob
import os
import re
import sys
import tempfile

# The start-up notices of TensorFlow 2.x on a CPU machine (C++ source file: what it says).
STARTUP_NOTICES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:. ]+\s+\d+ (port\.cc|cudart_stub\.cc|cpu_feature_guard\.cc)"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate)"
)
# "failed call to cuInit": expected where there is no NVIDIA device at all; on a machine
# with one it is a real error (a driver problem) and is shown.
NO_GPU_CUINIT = re.compile(r"^E\d{4} [\d:. ]+\s+\d+ cuda_platform\.cc:\d+\] failed call to cuInit")


def startup_noise(line, has_nvidia_device=None):
    """Whether a line of TensorFlow's stderr is a known start-up notice."""
    if STARTUP_NOTICES.match(line):
        return True
    if has_nvidia_device is None:
        has_nvidia_device = bool(glob.glob("/dev/nvidia[0-9]*"))
    return not has_nvidia_device and bool(NO_GPU_CUINIT.match(line))


@contextlib.contextmanager
def _stderr_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield capture
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines() if not startup_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def import_tensorflow():
    """Imports TensorFlow (once) without its start-up notices; returns the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _stderr_captured():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probing happens here
    return tf


def format_seconds(seconds):
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def print_now(line):
    """Prints a line at once, also through a pipe (`| tee`)."""
    print(line, flush=True)
