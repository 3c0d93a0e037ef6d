"""Runs the tutorials for real and writes them, with their outputs, as pages of the site.

`make lessons` runs `.venv/bin/python scripts/render_lessons.py tutorials/0*.py`. For each
lesson it

1. reads the tutobook script with jupytext and runs it top to bottom with nbclient, on this
   Python, not in fast mode (`VRL_TUTORIAL_FAST` unset, the `quick` profile), its figures in
   a temporary folder and its sweeps in a temporary MLflow store and TensorBoard root (so
   the repository's `mlflow.db` is neither read nor written);
2. writes `docs/lessons/<name>.md`: the text cells as they are (links to another lesson's
   `.py` point to its page), each code cell as a Python block, what it printed as a text
   block, each figure as a PNG under `docs/lessons/<name>/`;
3. records, in the page's first line, the SHA-256 of the lesson's source, which
   `tests/docs/test_lessons_rendered.py` compares with the source today: a lesson edited
   but not rendered again fails that test.

Give the lessons to render (`tutorials/04_*.py`) to redo only some; the others stay.
"""

import argparse
import datetime
import hashlib
import io
import os
import pathlib
import platform
import re
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS_DIR = REPO_ROOT / "tutorials"
LESSONS_DIR = REPO_ROOT / "docs" / "lessons"
HASH_LINE = re.compile(r"^<!-- rendered from (\S+) sha256=([0-9a-f]{64})")
LESSON_LINK = re.compile(r"\]\((0\d_[a-z_]+)\.py\)")
# A printed block longer than this keeps its head and tail (a sweep prints a line per run).
MAX_PRINTED_LINES = 60
# TensorFlow's and XLA's C++ log lines (`E0000 00:00:17.. 123 file.cc:45] ...`) and start-up
# notices, which reach a kernel's captured stderr: not the lesson's output.
CPP_LOG = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]|absl::InitializeLog"
    r"|oneDNN custom operations|Could not find cuda drivers|This TensorFlow binary is optimized"
)
# Colours and bold of a terminal (Keras's model summary): plain text on a page.
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TRACKING_YAML = """\
tracking_uri: sqlite:///mlflow.db
artifact_location: mlartifacts
experiment_prefix: ""
tensorboard_root: tb_logs
"""


def recorded_sha256(page):
    """The (source path, SHA-256) a rendered page records in its first line, or None."""
    lines = pathlib.Path(page).read_text().splitlines()
    match = HASH_LINE.match(lines[0]) if lines else None
    return (match.group(1), match.group(2)) if match else None


def run_notebook(text, work_dir):
    """Runs one lesson's source as a notebook in `work_dir`; returns (notebook, seconds)."""
    import jupytext
    import nbclient

    notebook = jupytext.reads(text, fmt="py")
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    client = nbclient.NotebookClient(
        notebook,
        timeout=None,  # a lesson's sweeps take minutes
        kernel_name="python3",
        resources={"metadata": {"path": str(work_dir)}},
    )
    start = time.monotonic()
    client.execute()
    return notebook, time.monotonic() - start


def lesson_environment(work_dir):
    """The variables the kernel inherits: real budgets, private tracking, figures aside."""
    tracking_dir = work_dir / "tracking"
    tracking_dir.mkdir()
    (tracking_dir / "mlflow.yaml").write_text(TRACKING_YAML)
    return {
        "PYTHONPATH": str(TUTORIALS_DIR),  # the first cell imports tutorials/lesson.py
        "VRL_TUTORIAL_OUT": str(work_dir / "out"),
        "VRL_MLFLOW_CONFIG": str(tracking_dir / "mlflow.yaml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tracking_dir / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def shorten(text):
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= MAX_PRINTED_LINES:
        return "\n".join(lines)
    head, tail = lines[:20], lines[-(MAX_PRINTED_LINES - 21) :]
    skipped = len(lines) - len(head) - len(tail)
    return "\n".join([*head, f"... ({skipped} lines left out here) ...", *tail])


def save_png(data, path):
    """Writes a base64 PNG as a palette PNG (a fraction of the size, same look)."""
    import base64

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def header_markdown(cell):
    fields = dict(line.split(": ", 1) for line in cell.source.strip().splitlines())
    return f"# {fields['Title']}\n\n*{fields['Description']}*"


def output_markdown(outputs, figure_dir, figures):
    """The Markdown of one code cell's outputs; appends the PNGs it writes to `figures`."""
    parts, printed = [], []

    def flush():
        if printed:
            parts.append("```text\n" + shorten("".join(printed)) + "\n```")
            printed.clear()

    for output in outputs:
        data = output.get("data", {})
        if output.output_type == "stream":
            lines = ANSI.sub("", output.text).splitlines(keepends=True)
            printed.extend(line for line in lines if not CPP_LOG.search(line))
        elif "image/png" in data:
            flush()
            path = figure_dir / f"figure_{len(figures) + 1}.png"
            save_png(data["image/png"], path)
            figures.append(path)
            parts.append(f"![Figure {len(figures)}]({figure_dir.name}/{path.name})")
        elif "text/plain" in data:
            printed.append(ANSI.sub("", data["text/plain"]) + "\n")
    flush()
    return parts


def page_markdown(notebook, figure_dir):
    """The lesson page's Markdown body, from an executed notebook; writes its figures."""
    parts, figures = [], []
    for cell in notebook.cells:
        if cell.cell_type == "raw" and cell.source.startswith("Title:"):
            parts.append(header_markdown(cell))
        elif cell.cell_type == "markdown":
            parts.append(LESSON_LINK.sub(r"](\1.md)", cell.source))
        elif cell.cell_type == "code":
            parts.append("```python\n" + cell.source.rstrip() + "\n```")
            parts.extend(output_markdown(cell.outputs, figure_dir, figures))
    return "\n\n".join(parts) + "\n"


def render(source, lessons_dir=LESSONS_DIR):
    """Runs one lesson for real and writes its page; returns (page path, seconds)."""
    source = pathlib.Path(source).resolve()
    # Read once: the page records the hash of exactly the text that ran.
    data = source.read_bytes()
    with tempfile.TemporaryDirectory(prefix="lesson-") as temp:
        work_dir = pathlib.Path(temp)
        saved = dict(os.environ)
        os.environ.update(lesson_environment(work_dir))
        os.environ.pop("VRL_TUTORIAL_FAST", None)
        os.environ.pop("VRL_TUTORIAL_PROFILE", None)
        try:
            notebook, seconds = run_notebook(data.decode(), work_dir)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    figure_dir = lessons_dir / source.stem
    figure_dir.mkdir(parents=True, exist_ok=True)
    for old in figure_dir.glob("*.png"):
        old.unlink()
    relative = source.relative_to(REPO_ROOT).as_posix()
    digest = hashlib.sha256(data).hexdigest()
    stamp = (
        f"<!-- rendered from {relative} sha256={digest} by `make lessons`; "
        "edit the lesson, not this page -->\n\n"
    )
    cores = len(os.sched_getaffinity(0))
    ran = (
        f"\n---\n\n*Rendered by `make lessons` from `{relative}` on "
        f"{datetime.date.today().isoformat()}: the lesson ran for real (profile `quick`) in "
        f"{seconds:.0f} s on {cores} of the {os.cpu_count()} cores of an "
        f"{platform.machine()} {platform.system()} machine.*\n"
    )
    page = lessons_dir / f"{source.stem}.md"
    page.write_text(stamp + page_markdown(notebook, figure_dir) + ran)
    return page, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="tutobook scripts, e.g. tutorials/0*.py")
    args = parser.parse_args(argv)
    missing = [source for source in args.sources if not pathlib.Path(source).is_file()]
    if missing:
        parser.error(f"No such lesson: {', '.join(missing)}; give tutorials/0N_*.py.")
    for source in args.sources:
        print(f"{source}: running ...", flush=True)
        page, seconds = render(source)
        print(f"{source}: {seconds:.0f} s -> {page.relative_to(REPO_ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
