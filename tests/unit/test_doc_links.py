"""Every document the README, docs and examples refer to is in the repository (issue 12), and every
`#anchor` a link in them names is a heading of its target page (issue 24)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").glob("*.yaml"))]
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
LINK_ANCHOR = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# a repository path named in prose or a comment: `docs/storage.md`, examples/maze.yaml, shared/DESIGN.md
REPO_PATH = re.compile(r"(?<![\w./-])((?:docs|examples|bench|shared|tests|scripts)/[\w./-]*\w\.(?:md|yaml|json|py))")


def references(document: Path) -> list[tuple[str, Path]]:
    text = document.read_text()
    found = [
        (link, document.parent / link)
        for link in MARKDOWN_LINK.findall(text)
        if not re.match(r"^[a-z]+:", link)  # http:, https:, mailto:
    ]
    return found + [(path, ROOT / path) for path in REPO_PATH.findall(text)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_referenced_document_exists(document: Path) -> None:
    missing = sorted({name for name, path in references(document) if not path.exists()})
    assert missing == [], f"{document.relative_to(ROOT)} refers to files that are not in the repository"


def test_the_check_finds_a_missing_document(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("see [the design](docs/nowhere.md) and shared/DESIGN.md\n")
    missing = sorted({name for name, path in references(page) if not path.exists()})
    assert missing == ["docs/nowhere.md", "shared/DESIGN.md"]


def slugs(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown page: lowercased, punctuation but `-` and
    `_` dropped, spaces as `-`, a repeated heading suffixed `-1`, `-2`, …"""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", page.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_anchors(document: Path) -> list[str]:
    broken = []
    for target, anchor in LINK_ANCHOR.findall(FENCE.sub("", document.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue
        page = document.parent / target if target else document
        if page.suffix == ".md" and page.is_file() and anchor not in slugs(page):
            broken.append(f"{target}#{anchor}")
    return sorted(broken)


MARKDOWN = [d for d in DOCUMENTS if d.suffix == ".md"]
# a module named by its package's path in prose: `sweep_worker/isolate.py`, sweep_cli/local/engine.py
MODULE_PATH = re.compile(r"(?<![\w./-])((?:sweep_[a-z]+|sweep)/[\w/]*\w\.py)")
SOURCES = sorted(ROOT.glob("*/src")) + sorted(ROOT.glob("*/*/src"))


def missing_modules(document: Path) -> list[str]:
    named = set(MODULE_PATH.findall(document.read_text()))
    return sorted(m for m in named if not any((src / m).is_file() for src in SOURCES))


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_a_page_names_by_path_exists(document: Path) -> None:
    # modules move (the CLI's rooms, issue 24): a page naming the old path is wrong
    assert missing_modules(document) == [], f"{document.relative_to(ROOT)} names modules that are not there"


def test_the_check_finds_a_moved_module(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "the pool (`sweep_cli/procpool.py`, sweep_cli/local/procpool.py), libs/sweep_aws/src/sweep_aws/s3.py\n"
    )
    assert missing_modules(page) == ["sweep_cli/procpool.py"]


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_anchor_a_link_names_is_a_heading_of_its_page(document: Path) -> None:
    assert broken_anchors(document) == [], f"{document.relative_to(ROOT)} links to headings that are not there"


def test_the_check_finds_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Cost and time, before `anything` runs\n\n## Step\n\n## Step\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[a](other.md#cost-and-time-before-anything-runs) [b](other.md#step-1) [c](#page)\n"
        "[d](other.md#nowhere) [e](#elsewhere) [f](https://example.com/#x)\n"
    )
    assert broken_anchors(page) == ["#elsewhere", "other.md#nowhere"]
