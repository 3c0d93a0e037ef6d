"""The site's lesson pages are the lessons as they are today, with every figure they show.

`make lessons` (scripts/render_lessons.py) runs each `tutorials/0N_*.py` for real and
writes `docs/lessons/0N_*.md` with the figures beside it, recording the SHA-256 of the
lesson's source in the page's first line. A lesson edited since (or a page edited by hand
in its place) fails here, with the command that renders it again. Runs no lesson.
"""

import hashlib
import pathlib
import re

import pytest
import yaml

from scripts import render_lessons

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
LESSONS = sorted(path.stem for path in (REPO_ROOT / "tutorials").glob("0[0-9]_*.py"))
PAGES_DIR = REPO_ROOT / "docs" / "lessons"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
# Figures are committed: each lesson's stay small (PNG, palette-quantized).
MAX_FIGURE_BYTES_PER_LESSON = 300_000


def test_every_lesson_has_a_page_and_no_page_lacks_a_lesson():
    pages = sorted(path.stem for path in PAGES_DIR.glob("0[0-9]_*.md"))
    assert pages == LESSONS, "run `make lessons` to render the lessons into docs/lessons/"


@pytest.mark.parametrize("name", LESSONS)
def test_page_was_rendered_from_the_lesson_as_it_is(name):
    page = PAGES_DIR / f"{name}.md"
    assert page.is_file(), f"docs/lessons/{name}.md is missing: run make lessons"
    recorded = render_lessons.recorded_sha256(page)
    assert recorded is not None, f"{page.name} does not say what it was rendered from"
    source, digest = recorded
    assert source == f"tutorials/{name}.py"
    today = hashlib.sha256((REPO_ROOT / source).read_bytes()).hexdigest()
    assert digest == today, (
        f"tutorials/{name}.py changed since docs/lessons/{name}.md was rendered: "
        f"run `make lessons LESSONS=tutorials/{name}.py` and commit the page and its figures."
    )


@pytest.mark.parametrize("name", LESSONS)
def test_page_shows_its_figures_and_they_are_small(name):
    page = PAGES_DIR / f"{name}.md"
    assert page.is_file(), f"docs/lessons/{name}.md is missing: run make lessons"
    text = page.read_text()
    figures = IMAGE.findall(text)
    assert figures, f"{page.name} shows no figure"
    for figure in figures:
        path = PAGES_DIR / figure
        assert path.is_file(), f"{page.name} shows {figure}, which is missing"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{figure} is not a PNG"
    on_disk = sorted((PAGES_DIR / name).glob("*.png"))
    assert sorted(PAGES_DIR / figure for figure in figures) == on_disk, "stray figure files"
    total = sum(path.stat().st_size for path in on_disk)
    assert total < MAX_FIGURE_BYTES_PER_LESSON, f"{name}'s figures take {total} bytes"
    # What ran is what the lesson says (the quick profile, not the tests' fast mode).
    assert "ran for real (profile `quick`)" in text


def test_the_site_lists_every_lesson():
    nav = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())["nav"]
    lessons = next(item["Lessons"] for item in nav if "Lessons" in item)
    pages = [item if isinstance(item, str) else next(iter(item.values())) for item in lessons]
    assert [f"lessons/{name}.md" for name in LESSONS] == [
        page for page in pages if page != "lessons/index.md"
    ]


def test_the_hash_is_read_from_the_first_line_only(tmp_path):
    page = tmp_path / "page.md"
    digest = "ab" * 32
    page.write_text(f"<!-- rendered from tutorials/x.py sha256={digest} by make lessons -->\n")
    assert render_lessons.recorded_sha256(page) == ("tutorials/x.py", digest)
    page.write_text(f"# Title\n<!-- rendered from tutorials/x.py sha256={digest} -->\n")
    assert render_lessons.recorded_sha256(page) is None
