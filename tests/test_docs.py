"""The product documents itself: user-facing text never sends a reader outside the repository, every relative
link resolves (file and heading), and every `make <target>` and `telco360 <verb> [--option]` it names exists.

Fast and warehouse-free: reads files, the Makefile and the CLI's argparse parser. Each checker takes the
repository root, so the last tests run them on a deliberately broken copy to show that they can fail.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # `make test-fast`

ROOT = Path(__file__).resolve().parent.parent

# a reader of the product never has these: the specification and the decks live outside the repository
OUTSIDE = [
    (re.compile(r"SPEC\.md"), "SPEC.md"),
    (re.compile(r"SPEC\s*§"), "SPEC §"),
    (re.compile(r"\.\./shared"), "../shared"),
]


def markdown_files(root: Path) -> list[Path]:
    files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    files += [p for p in (root / d / "README.md" for d in ("ml", "dbt_project", "expectations")) if p.exists()]
    return [p for p in files if p.exists()]


def user_facing_files(root: Path) -> list[Path]:
    return [
        *markdown_files(root),
        *sorted((root / "dbt_project").rglob("*.yml")),
        *sorted((root / "expectations").glob("*.yml")),
    ]


def outside_references(root: Path) -> list[str]:
    found = []
    for path in user_facing_files(root):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(root)}:{n}: {label}" for rx, label in OUTSIDE if rx.search(line)]
        # a reference broken across lines (folded YAML): "SPEC\n    §4"
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(root)}: SPEC § across lines" for _ in re.finditer(r"SPEC\s*\n\s*§", text)]
    return found


# --- markdown: code, links, headings -----------------------------------------------------------------------

FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.S | re.M)
INLINE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def code_of(text: str) -> list[str]:
    """The code a markdown text shows: fenced blocks line by line (comments dropped) and inline spans."""
    out = []
    for block in FENCE.findall(text):
        for line in block.splitlines()[1:-1]:
            out.append(re.sub(r"\s#\s.*$", "", line))
    out += INLINE.findall(FENCE.sub("", text))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.replace("`", "").replace("*", ""))
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(1))
            out.add(s if s not in seen else f"{s}-{seen[s]}")
            seen[s] = seen.get(s, 0) + 1
    return out


def broken_links(root: Path) -> list[str]:
    bad = []
    for path in markdown_files(root):
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        text = INLINE.sub("", text)
        for target in LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(root)}: ({target})"
            if not dest.exists():
                bad.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{where}: no heading #{anchor} in {dest.name}")
    return bad


# --- commands ------------------------------------------------------------------------------------------------


def make_targets(root: Path) -> set[str]:
    text = (root / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


def cli_verbs() -> dict[str, argparse.ArgumentParser]:
    from telco360.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def unknown_commands(root: Path, verbs: dict[str, argparse.ArgumentParser] | None = None) -> list[str]:
    verbs = cli_verbs() if verbs is None else verbs
    targets = make_targets(root)
    bad = []
    for path in markdown_files(root):
        name = path.relative_to(root)
        for code in code_of(path.read_text(encoding="utf-8")):
            for target in re.findall(r"(?<![\w.-])make\s+([a-z][\w-]*)", code):
                if target not in targets:
                    bad.append(f"{name}: `make {target}` is not a Makefile target")
            for m in re.finditer(r"(?<![\w.-])telco360[ \t\n]+([a-z][\w-]*)([^\n]*)", code):
                verb = m.group(1)
                rest = re.split(r"\s\|\s|;|&&|\$\(|\s#\s", m.group(2))[0]  # up to a pipe or a comment
                if verb not in verbs:
                    bad.append(f"{name}: `telco360 {verb}` is not a verb of the CLI")
                    continue
                parser = verbs[verb]
                options = {s for a in parser._actions for s in a.option_strings}
                for opt in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rest):
                    if opt not in options:
                        bad.append(f"{name}: `telco360 {verb} {opt}` is not an option of the verb")
                choices = next((a.choices for a in parser._actions if a.dest == "action"), None)
                words = rest.split()
                if choices and words and re.fullmatch(r"[a-z]+(\|[a-z]+)*", words[0]):
                    bad += [
                        f"{name}: `telco360 {verb} {w}` is not an action of the verb"
                        for w in words[0].split("|")
                        if w not in choices
                    ]
    return bad


# --- the repository ------------------------------------------------------------------------------------------


def test_user_facing_text_never_points_outside_the_repository():
    assert outside_references(ROOT) == []


def test_every_relative_link_resolves():
    assert broken_links(ROOT) == []


def test_every_make_target_and_telco360_command_named_exists():
    assert unknown_commands(ROOT) == []


def test_the_readme_opens_with_the_two_commands():
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[0] == "# telco360"
    assert lines[1].startswith("```") and lines[4] == "```"
    assert [line.split()[:2] for line in lines[2:4]] == [["make", "run"], ["make", "test"]]


# --- the checkers can fail -----------------------------------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A tree with one of each mistake the checks exist for."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "dbt_project" / "models").mkdir(parents=True)
    (tmp_path / "expectations").mkdir()
    (tmp_path / "Makefile").write_text("run: ## the demo\n\ttrue\ntest:\n\ttrue\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# t\n\n```bash\nmake run\nmake deploy   # no such target\n```\n\n"
        "What it must do is in `../shared/SPEC.md`. See [the runbook](docs/runbook.md#rotate-the-salt), "
        "[gone](docs/gone.md) and [here](#t).\n\n"
        "Run `telco360 ingest --period 2026-01 --forse` or `telco360 publish`, then "
        "`telco360 models list|retire`.\n",
        encoding="utf-8",
    )
    (tmp_path / "docs" / "runbook.md").write_text("# Runbook\n\n## Rotate the PII salt\n", encoding="utf-8")
    (tmp_path / "dbt_project" / "models" / "_m.yml").write_text(
        "models:\n- name: m\n  description: 'Grain: one row per month (SPEC\n    §3).'\n", encoding="utf-8"
    )
    (tmp_path / "expectations" / "marts.yml").write_text("# the cleanup rules (SPEC §7)\n", encoding="utf-8")
    return tmp_path


def test_outside_references_are_found(broken: Path):
    found = outside_references(broken)
    assert any(f.startswith("README.md:") and "../shared" in f for f in found)
    assert any(f.startswith("README.md:") and "SPEC.md" in f for f in found)
    assert any("_m.yml" in f and "across lines" in f for f in found)
    assert any(f.startswith("expectations/marts.yml:1") for f in found)


def test_broken_links_are_found(broken: Path):
    found = broken_links(broken)
    assert any("docs/gone.md" in f and "no such file" in f for f in found)
    assert any("#rotate-the-salt" in f and "no heading" in f for f in found)
    assert not any("(#t)" in f for f in found)  # a heading of the same file


def test_unknown_commands_are_found(broken: Path):
    found = unknown_commands(broken)
    assert "README.md: `make deploy` is not a Makefile target" in found
    assert not any("make run" in f for f in found)
    assert "README.md: `telco360 ingest --forse` is not an option of the verb" in found
    assert not any("--period" in f for f in found)
    assert "README.md: `telco360 publish` is not a verb of the CLI" in found
    assert "README.md: `telco360 models retire` is not an action of the verb" in found
    assert not any("models list" in f for f in found)


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Models and the campaign loop (MLflow)", "models-and-the-campaign-loop-mlflow"),
        ("`customer_360`", "customer_360"),
        ("KPI definitions (口径)", "kpi-definitions-口径"),
        ("Ingest: landing → raw, nothing lost", "ingest-landing--raw-nothing-lost"),
    ],
)
def test_anchors_follow_github(heading: str, anchor: str):
    assert slug(heading) == anchor
