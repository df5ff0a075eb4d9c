"""The boundaries of docs/architecture.md hold, and the import-linter contracts that guard them bite.

The violation tests write offending modules into a copy of the source tree, so a run never leaves a
stray file behind in the real one (nor trips up someone else's `lint-imports` meanwhile).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
ROOT_PACKAGES = CONFIG["root_packages"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}
SERVICES = ["users", "auth", "permissions", "notifications"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Wide columns: rich would otherwise wrap long module names in the report.
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the root packages and pyproject.toml to break on purpose."""
    for package in ROOT_PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


VIOLATIONS = [
    pytest.param(
        "notifications/_tmp_violation.py",
        "from users.models import User\n",
        "users-internals",
        "notifications._tmp_violation -> users.models",
        id="another-app-imports-users-models",
    ),
    pytest.param(
        "notifications/_tmp_violation.py",
        "from users.core import services\n",
        "users-internals",
        "notifications._tmp_violation -> users.core.services",
        id="another-app-imports-users-core",
    ),
    pytest.param(
        "gateway/_tmp_violation.py",
        "from users.local import LocalUserService\n",
        "users-internals",
        "gateway._tmp_violation -> users.local",
        id="the-gateway-imports-the-local-implementation",
    ),
    pytest.param(
        "users/interface/_tmp_violation.py",
        "from django.db import models\n",
        "interfaces-stdlib",
        "users.interface._tmp_violation -> django",
        id="an-interface-imports-django",
    ),
    pytest.param(
        "users/interface/_tmp_violation.py",
        "from users.models import User\n",
        "interfaces-stdlib",
        "users.interface._tmp_violation -> users.models",
        id="an-interface-imports-its-models",
    ),
    pytest.param(
        "project/kernel/_tmp_violation.py",
        "from celery import shared_task\n",
        "kernel-stdlib",
        "project.kernel._tmp_violation -> celery",
        id="the-kernel-imports-celery",
    ),
    pytest.param(
        "users/core/_tmp_violation.py",
        "from users.local import LocalUserService\n",
        "service-layers",
        "users.core._tmp_violation -> users.local",
        id="core-imports-the-layer-above-it",
    ),
    pytest.param(
        "users/_tmp_violation.py",
        "",
        "service-layers",
        "- users._tmp_violation",
        id="an-undeclared-module-in-a-service",
    ),
    pytest.param(
        "users/api/__init__.py",
        "from users.models import User\n",
        "no-models-behind-the-front-door",
        "users.api -> users.models",
        id="a-rest-view-imports-models",
    ),
    pytest.param(
        "auth/core/__init__.py",
        "from users.core.selectors import get_user\n",
        "cores-independent",
        "auth.core -> users.core.selectors",
        id="one-core-imports-another",
    ),
    pytest.param(
        "notifications/_tmp_violation.py",
        "from protos.gatehouse.users.v1 import users_pb2\n",
        "protos-in-rpc-only",
        "notifications._tmp_violation -> protos.gatehouse.users.v1.users_pb2",
        id="generated-code-outside-an-rpc-package",
    ),
    pytest.param(
        "gateway/_tmp_violation.py",
        "import grpc\n",
        "grpc-in-rpc-only",
        "gateway._tmp_violation -> grpc",
        id="grpc-outside-an-rpc-package",
    ),
    pytest.param(
        "project/events/apps.py",
        "from permissions.interface import declare_permissions\n",
        "infrastructure-imports-no-service",
        "project.events.apps -> permissions.interface",
        id="shared-infrastructure-imports-a-service",
    ),
    pytest.param(
        "project/events/outbox.py",
        "def _after_commit(event_id):\n    from project.events.relay import relay_events\n",
        "events-layers",
        "project.events.outbox -> project.events.relay",
        id="the-outbox-imports-the-relay-even-inside-a-function",
    ),
    pytest.param(
        "project/events/deadletters.py",
        "from project.events.relay import relay_all\n",
        "events-layers",
        "project.events.deadletters -> project.events.relay",
        id="dead-letters-import-their-sibling-the-relay",
    ),
]


@pytest.mark.parametrize(("path", "source", "contract", "reported"), VIOLATIONS)
def test_a_violation_breaks_its_contract_and_is_named(tree, path, source, contract, reported):
    module = tree / path
    module.parent.mkdir(exist_ok=True)
    if not (module.parent / "__init__.py").exists():
        (module.parent / "__init__.py").write_text("")
    module.write_text(source)

    whole = lint_imports(tree)
    assert whole.returncode == 1, whole.stdout + whole.stderr
    only = lint_imports(tree, "--contract", contract)
    assert only.returncode == 1, only.stdout + only.stderr
    assert "BROKEN" in only.stdout
    assert reported in only.stdout, only.stdout


def _children(package: str) -> set[str]:
    folder = ROOT / package
    modules = {p.stem for p in folder.glob("*.py") if p.name != "__init__.py"}
    packages = {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    return {f"{package}.{name}" for name in modules | packages}


@pytest.mark.parametrize("service", SERVICES)
def test_every_internal_module_of_a_service_is_protected(service):
    internals = _children(service) - {f"{service}.interface"}
    protected = set(CONTRACTS[f"{service}-internals"]["protected_modules"])
    assert protected == internals, (
        f"pyproject.toml [{service}-internals] must protect exactly {sorted(internals)}: "
        "everything in the service but its interface"
    )


def test_every_module_of_the_shared_infrastructure_is_kept_from_the_services():
    # project.urls is the URLconf Django loads: its whole job is to hand over to the gateway.
    modules = _children("project") - {"project.urls"}
    sources = set(CONTRACTS["infrastructure-imports-no-service"]["source_modules"])
    assert sources == modules, (
        f"pyproject.toml [infrastructure-imports-no-service] must list exactly {sorted(modules)}: "
        "every top-level module of project but its URLconf"
    )


def test_interfaces_and_the_kernel_reach_nothing_but_the_standard_library():
    # The forbidden contracts list third-party packages by name; this catches one the list misses.
    graph = grimp.build_graph(*ROOT_PACKAGES, include_external_packages=True, cache_dir=None)
    sources = {m for m in graph.modules if m.split(".")[-1] == "interface" and m.count(".") == 1}
    sources.add("project.kernel")
    allowed_internal = ["project.kernel", *(f"{s}.interface" for s in SERVICES)]
    problems = []
    for source in sorted(sources):
        for module in graph.find_upstream_modules(source, as_package=True):
            top = module.split(".")[0]
            if top in ROOT_PACKAGES:
                if not any(module == p or module.startswith(f"{p}.") for p in allowed_internal):
                    problems.append(f"{source} reaches {module}")
            elif top not in sys.stdlib_module_names:
                problems.append(f"{source} reaches third-party {module}")
    assert not problems, problems


def test_an_interface_imports_at_run_time_without_any_third_party_package():
    # What a remote client without the implementation experiences: parent packages' __init__
    # modules run too, which no static import graph shows.
    probe = (
        "import sys\n"
        f"import {', '.join(f'{s}.interface' for s in SERVICES if (ROOT / s / 'interface').exists() or (ROOT / s / 'interface.py').exists())}\n"
        "import project.kernel.context, project.kernel.delegation, project.kernel.errors, project.kernel.events\n"
        f"ours = {tuple(ROOT_PACKAGES)!r}\n"
        "extra = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - set(ours)"
        " - {'__main__', '__mp_main__'})\n"
        "print(','.join(m for m in extra if not m.startswith('_')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{probe}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"third-party packages imported: {result.stdout.strip()}"
