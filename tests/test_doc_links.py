"""The docs hold together: every relative link in README.md and docs/*.md reaches a file of this
repository (and, for a Markdown file, a heading there), and nothing in the repository cites a document
outside it (a `../shared` path, or a platforms.md other than docs/platforms.md). No emulator needed."""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")  # [text](target); images too would be checked alike
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphen and underscore kept),
    each space a hyphen."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """The anchors GitHub gives the headings of a Markdown file (a repeated slug gets -1, -2, ...)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(text):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def link_problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, does not resolve in the repository; None when it does."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ... : not ours to check
        return None
    path_part, _, fragment = target.partition("#")
    path = (source.parent / unquote(path_part)).resolve() if path_part else source
    if not path.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not path.exists():
        return f"{target}: no such file"
    if fragment and path.suffix == ".md" and fragment not in anchors(path):
        return f"{target}: {path.relative_to(ROOT)} has no heading with anchor #{fragment}"
    return None


def test_every_relative_link_in_the_docs_resolves():
    assert (ROOT / "docs" / "platforms.md").exists()
    problems = []
    for doc in DOCS:
        text = _FENCE.sub("", doc.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            problem = link_problem(doc, target)
            if problem:
                problems.append(f"{doc.relative_to(ROOT)}: {problem}")
    assert not problems, "\n".join(problems)


def test_the_link_check_refuses_a_missing_file_and_a_missing_anchor():
    readme = ROOT / "README.md"
    assert link_problem(readme, "docs/no-such-file.md") is not None
    assert link_problem(readme, "docs/platforms.md#no-such-section") is not None
    assert link_problem(readme, "../shared/platforms.md") is not None
    assert link_problem(readme, "docs/platforms.md") is None
    assert link_problem(readme, "https://example.com/x.md#y") is None
    assert slug("Content API (`api` function)") == "content-api-api-function"
    assert slug("4. Connecting a platform account") == "4-connecting-a-platform-account"


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_nothing_cites_a_document_outside_the_repository():
    outside = re.compile(r"\.\./shared\b|(?<![\w/])shared/platforms\.md|/work/shared")
    other_platforms_md = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*)platforms\.md")
    me = Path(__file__).resolve()
    problems = []
    for path in _tracked_files():
        if path == me or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(ROOT)
        for number, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                problems.append(f"{rel}:{number}: cites a file outside the repository: {line.strip()}")
                continue
            for match in other_platforms_md.finditer(line):
                prefix = match.group(1)
                if prefix.endswith("docs/") or (prefix == "" and path.parent == ROOT / "docs"):
                    continue
                problems.append(f"{rel}:{number}: cites a platforms.md other than docs/platforms.md: {line.strip()}")
    assert not problems, "\n".join(problems)
