"""docs/results.md, written from the tracking store: the current results, nothing older.

`make results` (`python -m experiments results`) reads `docs/results.template.md` and
replaces each directive line with what the store holds now:

- `{{sweep NAME PROFILE}}`: the newest FINISHED sweep of that experiment and profile, as a
  header (the parent run, its date, its commit, the command that reproduces it) and its
  report's tables and budget verdicts (the parent's `report/summary.md`);
- `{{figure NAME PROFILE FIGURE}}`: that sweep's report figure (`report/FIGURE.png`),
  copied beside the document and shown.

The template's prose sets each table beside the published figure it corresponds to; a
sweep the store lacks is named with the command that runs it. History lives in git.
"""

import datetime
import pathlib
import re
import shutil
import tempfile

from experiments import schema, tracking
from experiments.errors import one_line

DIRECTIVE = re.compile(r"^\{\{(sweep|figure) ([A-Za-z0-9_-]+) ([A-Za-z0-9_-]+)(?: ([\w-]+))?\}\}$")


def write_results(template, out, client, settings):
    """Renders `template` (a path) into `out` (a path); returns the sweeps not found."""
    out = pathlib.Path(out)
    missing = []
    lines = []
    for line in pathlib.Path(template).read_text().splitlines():
        found = DIRECTIVE.match(line.strip())
        if found is None:
            lines.append(line)
            continue
        kind, name, profile, figure = found.groups()
        parent = newest_sweep(client, settings, name, profile)
        if parent is None:
            if kind == "figure":  # its sweep's line says it
                continue
            missing.append(f"{name} {profile}")
            lines.append(f"*Not run in this store yet: `{command(name, profile, parent)}`.*")
        elif kind == "sweep":
            lines += sweep_block(client, parent, name, profile)
        else:
            lines.append(figure_line(client, parent, name, profile, figure, out.parent))
    out.write_text(
        "<!-- Written by `make results` from docs/results.template.md: edit the template. -->\n"
        + "\n".join(lines)
        + "\n"
    )
    return missing


def newest_sweep(client, settings, name, profile):
    """The newest FINISHED parent run of `name`'s `profile`, or None."""
    experiment = client.get_experiment_by_name(settings.experiment_name(name))
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`{schema.SWEEP_PROFILE}` = '{profile}' "
            f"and attributes.status = '{schema.STATUS_FINISHED}'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def command(name, profile, parent):
    """The command that runs the sweep again (its `--set` arguments and backend included)."""
    text = f"make experiment NAME={name}"
    if profile != "quick":
        text += f" PROFILE={profile}"
    if parent is None:
        return text
    backend = parent.data.tags.get(schema.KERAS_BACKEND, "tensorflow")
    if backend != "tensorflow":
        text += f" BACKEND={backend}"
    overrides = _json_list(parent.data.tags.get(schema.SWEEP_OVERRIDES, "[]"))
    overrides = [o for o in overrides if not o.startswith("backend=")]
    if overrides:
        text += ' ARGS="' + " ".join(f"--set {o}" for o in overrides) + '"'
    return text


def _json_list(text):
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def sweep_block(client, parent, name, profile):
    """The header and the report tables of one sweep, as Markdown lines."""
    tags = parent.data.tags
    started = datetime.datetime.fromtimestamp(parent.info.start_time / 1e3, datetime.UTC)
    minutes = (parent.info.end_time - parent.info.start_time) / 6e4
    commit = tags.get(schema.GIT_COMMIT, "")[:7] or "unknown"
    if tags.get(schema.GIT_DIRTY) == "true":
        commit += ", with uncommitted changes"
    header = (
        f"**`{profile}` profile**: sweep `{parent.info.run_name}`, "
        f"{started:%Y-%m-%d %H:%M} UTC, {minutes:.0f} min, commit `{commit}`, "
        f"{tags.get(schema.KERAS_BACKEND, 'tensorflow')}, {tags.get(schema.DEVICE, 'CPU')}. "
        f"Reproduce: `{command(name, profile, parent)}`."
    )
    return [header, "", *_summary_tables(client, parent)]


def _summary_tables(client, parent):
    """The report's `summary.md` below its title, headings one level down."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(
                parent.info.run_id, f"{schema.REPORT_ARTIFACT_DIR}/{schema.REPORT_SUMMARY}", folder
            )
        except Exception:  # a sweep whose report failed: its header stands alone
            return ["*This sweep has no report (`make report` draws it).*"]
        text = pathlib.Path(path).read_text()
    lines = text.splitlines()
    body = lines[1:] if lines and lines[0].startswith("## ") else lines
    return [("#" + line) if line.startswith("###") else line for line in body]


def figure_line(client, parent, name, profile, figure, folder):
    """Copies the sweep's figure beside the document; returns the Markdown that shows it."""
    target = pathlib.Path(folder) / f"{name}_{profile}_{figure}.png"
    artifact = f"{schema.REPORT_ARTIFACT_DIR}/{figure}.png"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            path = client.download_artifacts(parent.info.run_id, artifact, scratch)
        except Exception as error:  # MLflow's error differs by store; the page goes on
            return f"*The sweep's report has no `{artifact}` ({one_line(error, 200)}).*"
        shutil.copyfile(path, target)
    return f"![{name}, {profile} profile: {figure.replace('_', ' ')}]({target.name})"


def main(template, out, tracking_config=None):
    """`python -m experiments results`: writes the document; prints what is missing."""
    settings = tracking_config or tracking.load_tracking_config()
    client = tracking.open_store(settings)
    missing = write_results(template, out, client, settings)
    print(f"Wrote {out} from {settings.tracking_uri}.")
    if missing:
        print(f"Not in the store ({len(missing)}): {'; '.join(missing)}.")
    return missing
