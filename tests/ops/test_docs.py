"""The README stays true: the newcomer's two commands, a row for every environment variable the
code reads, and links that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CODE = [
    path
    for package in ("project", "users", "auth", "permissions", "notifications", "gateway")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
]


def documented() -> set[str]:
    rows = [line for line in README.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def settings_variables() -> set[str]:
    source = (ROOT / "project" / "settings.py").read_text()
    names = set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    if "_GRPC_TARGET" in source:
        services = re.search(r"for service in \(([^)]*)\)", source).group(1)
        names |= {f"{name.upper()}_GRPC_TARGET" for name in re.findall(r"\"(\w+)\"", services)}
    return names


def process_variables() -> set[str]:
    pattern = re.compile(r"os\.(?:environ(?:\.get|\.setdefault)?[\[(]|getenv\()\s*\"([A-Z][A-Z0-9_]*)\"")
    return {name for path in CODE for name in pattern.findall(path.read_text())}


def test_the_readme_gives_the_two_newcomer_commands():
    assert "scripts/run     # run it" in README
    assert "scripts/test    # run the tests" in README


def test_every_setting_read_from_the_environment_has_a_row_in_the_readme():
    names = settings_variables()
    assert {"DATABASE_URL", "SECRET_KEY", "USERS_GRPC_TARGET"} <= names  # the scan itself works
    assert names - documented() == set()


def test_every_variable_a_process_reads_has_a_row_in_the_readme():
    assert process_variables() - documented() == set()


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md", "docs/operations.md"])
def test_relative_links_lead_to_files_that_exist(document):
    text = (ROOT / document).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (ROOT / document).parent.joinpath(target).resolve().exists(), f"{document} links to {target}"
