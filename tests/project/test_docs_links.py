"""Every link and every repository path a document names resolves in a fresh clone (no `../shared`)."""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOP_LEVEL = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("."))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Paths in other projects are written right after the project's name ("ExecuTorch `runtime/core/error.h`").
OTHER_PROJECTS = ("ExecuTorch", "ggml", "Micro", "Mobly", "adbutils", "Flask")
CODE_PATH = re.compile(r"`((?:\.\./|(?:%s)/)[^`\s<>*{}]*)`" % "|".join(map(re.escape, TOP_LEVEL)))


def documents():
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [p for p in listed.stdout.split() if (ROOT / p).is_file()]


def is_output_folder(path: str) -> bool:
    """Folders the tools write (bench/.work/, a generated SDK) are named in docs but ignored by git."""
    return path.endswith("/") and subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def targets(text):
    """Relative link targets (anchors and URLs left out) and repository paths written as code."""
    for link in LINK.findall(text):
        if not re.match(r"^[a-z]+:|^#", link):
            yield link.split("#")[0], True
    for match in CODE_PATH.finditer(text):
        before = text[max(0, match.start() - 40):match.start()].split()
        if before and before[-1] in OTHER_PROJECTS:
            continue
        yield match.group(1).rstrip(".,:;"), False


@pytest.mark.parametrize("doc", documents())
def test_every_link_resolves(doc):
    source = ROOT / doc
    broken = []
    for target, relative_to_doc in targets(source.read_text()):
        base = source.parent if relative_to_doc else ROOT
        resolved = (base / target).resolve()
        inside = ROOT in (resolved, *resolved.parents)
        if not inside or not (resolved.exists() or (not relative_to_doc and is_output_folder(target))):
            broken.append(target)
    assert not broken, f"{doc} names paths that do not exist in the repository: {broken}"


def test_readme_links_the_design_notes():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/DESIGN.md)" in readme
