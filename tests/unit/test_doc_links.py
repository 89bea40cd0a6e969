"""Every document the README, docs and examples refer to is in the repository (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").glob("*.yaml"))]
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
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
