"""Turns the tutorials into Jupyter notebooks that run on this project's virtual environment.

`make notebooks` runs `.venv/bin/python scripts/make_notebooks.py tutorials/0*.py`, which

1. converts each tutobook script with jupytext into `notebooks/<name>.ipynb` (no outputs;
   a notebook already there is overwritten), with the kernel `vanilla-rnn-lab` in the
   notebook's metadata (what `jupytext --set-kernel vanilla-rnn-lab` writes);
2. registers the Python that runs it as that kernel, shown as "Python (vanilla-rnn-lab)",
   inside its own environment (`.venv/share/jupyter/kernels/`, not in your home folder),
   so `.venv/bin/jupyter lab` opens the notebooks on this project's `.venv`.

`tests/tutorials/test_notebooks.py` calls `main()` with temporary folders and runs a notebook.
"""

import argparse
import pathlib
import sys

KERNEL_NAME = "vanilla-rnn-lab"
DISPLAY_NAME = "Python (vanilla-rnn-lab)"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": DISPLAY_NAME, "language": "python"}
INSTALL_HINT = (
    "`make notebooks` installs it, or: .venv/bin/pip install -r requirements-notebooks.txt"
)


TUTORIALS_DIR = pathlib.Path(__file__).resolve().parents[1] / "tutorials"


def install_kernel(prefix=sys.prefix):
    """Registers this Python as the kernel KERNEL_NAME under `prefix`; returns its folder.

    The kernel's import path holds `tutorials/`, so a lesson's first cell
    (`from lesson import ...`) works in a notebook wherever the notebook is.
    """
    try:
        from ipykernel.kernelspec import install
    except ImportError as error:
        raise SystemExit(f"ipykernel is not installed in {sys.prefix}: {INSTALL_HINT}") from error
    return pathlib.Path(
        install(
            kernel_name=KERNEL_NAME,
            display_name=DISPLAY_NAME,
            prefix=str(prefix),
            env={"PYTHONPATH": str(TUTORIALS_DIR)},
        )
    )


def convert(sources, out_dir):
    """Writes each tutobook script as `out_dir/<name>.ipynb` on KERNEL_NAME; returns the paths."""
    import jupytext

    sources = [pathlib.Path(source) for source in sources]
    missing = [str(source) for source in sources if not source.is_file()]
    if missing:
        raise ValueError(f"No such tutorial file: {', '.join(missing)}; give tutorials/0N_*.py.")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        notebook = jupytext.read(source)
        # As `jupytext --set-kernel` does: the kernelspec now names the language, and the
        # "-all" filter would keep it out of a text file paired with the notebook later.
        options = notebook.metadata.get("jupytext", {})
        options.pop("main_language", None)
        if options.get("notebook_metadata_filter") == "-all":
            options.pop("notebook_metadata_filter")
        notebook.metadata["kernelspec"] = dict(KERNELSPEC)
        target = out_dir / f"{source.stem}.ipynb"
        jupytext.write(notebook, target, fmt="ipynb")
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="tutobook scripts, e.g. tutorials/0*.py")
    parser.add_argument("--out", default="notebooks", help="output folder (default: notebooks)")
    parser.add_argument(
        "--kernel-prefix",
        default=sys.prefix,
        help="environment the kernel is registered in (default: this Python's, sys.prefix)",
    )
    args = parser.parse_args(argv)
    try:
        written = convert(args.sources, args.out)
    except ValueError as error:
        parser.error(str(error))
    kernel_dir = install_kernel(args.kernel_prefix)
    print(f'Kernel "{DISPLAY_NAME}" ({KERNEL_NAME}): {kernel_dir}')
    print(f"{len(written)} notebooks in {args.out}/: {', '.join(path.name for path in written)}")
    return written


if __name__ == "__main__":
    main()
