"""platform/ is a source root, never a package: it would shadow the stdlib module."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_platform_is_not_a_package():
    assert (ROOT / "platform" / "proving_ground" / "__init__.py").exists()
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert not (ROOT / "platform.py").exists()


def test_no_tests_platform_package():
    assert not (ROOT / "tests" / "platform").exists()


def test_stdlib_platform_module_wins_from_the_repo_root():
    result = subprocess.run(
        [sys.executable, "-c", "import platform, uuid; print(platform.system())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_python_dash_m_pytest_collects_from_the_repo_root():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "tests/core/test_layout.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_platform_is_not_a_package" in result.stdout


def test_console_script_is_the_flask_cli():
    script = Path(sys.executable).parent / "proving-ground"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("db", "users", "tokens", "demo", "run", "routes"):
        assert command in result.stdout
