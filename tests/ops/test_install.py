"""Issue 14 item 4: Gatehouse installs the way Python deployments install things. The wheel is
built from the checkout, installed into a fresh virtual environment, and the `gatehouse` command
runs outside the checkout: migrate, check, a server that answers and renders the package's own
templates. (The runtime dependencies come from the project's environment through a .pth file, so
the test does not download them again; the wheel itself is installed with pip.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support.processes import ROOT, Process, free_port, port_open


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info/ next to the sources.
    source = tmp_path_factory.mktemp("source") / "gatehouse"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache"),
        symlinks=True,
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(out), "-q"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("gatehouse-*.whl")
    return built


def test_the_wheel_carries_the_packages_templates_static_files_and_protos_and_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("project", "users", "auth", "permissions", "notifications", "gateway", "protos"):
        assert f"{package}/__init__.py" in names
    assert "auth/templates/oidc/login.html" in names
    assert "auth/static/oidc/pages.css" in names
    assert "notifications/templates/notifications/password_reset.txt" in names
    assert "auth/migrations/0001_initial.py" in names
    assert "protos/gatehouse/auth/v1/auth.proto" in names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/"))]
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(name for name in names if name.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    assert "gatehouse = project.cli:main" in entry_points


def test_pip_install_then_the_gatehouse_command_runs_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "gatehouse-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    run = tmp_path / "run"
    run.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "DEBUG": "1", "HOME": str(tmp_path)}
    gatehouse = str(venv / "bin" / "gatehouse")

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([gatehouse, *args], cwd=run, env=env, capture_output=True, text=True, timeout=300)

    where = command("shell", "-c", "import auth; print(auth.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().splitlines()[-1].startswith(str(venv)), where.stdout  # installed, not the checkout
    migrated = command("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    assert (run / "var" / "gatehouse.sqlite3").exists()  # data next to where it runs, not in site-packages
    assert command("check").returncode == 0

    port = free_port()
    server = Process(
        "gatehouse", [gatehouse, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env, log_dir=tmp_path, cwd=run
    )
    try:
        server.wait_until(lambda: port_open(port), timeout=60, what="listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        # A page of the package's own templates: the hosted sign-in's error page.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/oauth2/authorize", timeout=10)
        assert refused.value.code == 400 and b"This sign-in request cannot be completed" in refused.value.read()
    finally:
        server.stop()

    # Issue 16 item 4, the image's shape: static files collected under the data directory (never
    # site-packages), then gunicorn without DEBUG serves them itself.
    collected = command("collectstatic", "--noinput", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr[-2000:]
    hashed = json.loads((run / "var" / "static" / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]
    port = free_port()
    deployed = {**env, "DEBUG": "0", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0"}
    web = Process(
        "gunicorn",
        [str(venv / "bin" / "python"), "-m", "gunicorn", "project.wsgi", "-b", f"127.0.0.1:{port}"],
        env=deployed,
        log_dir=tmp_path,
        cwd=run,
    )
    try:
        web.wait_until(lambda: port_open(port), timeout=60, what="listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/{hashed}", timeout=10) as response:
            assert response.status == 200 and "immutable" in response.headers["Cache-Control"]
    finally:
        web.stop()
