import subprocess

from tests.support.processes import ROOT


def test_the_checked_in_generated_code_matches_the_protos():
    result = subprocess.run(
        [str(ROOT / "scripts" / "protoc"), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout
