"""Start the app the way the README says (`make run`), on a free port, and use it."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


def test_make_run_serves_health_and_login(tmp_path):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PG_") and key not in ("DATABASE_URL", "SECRET_KEY")
    }
    env["PG_INSTANCE_PATH"] = str(tmp_path / "instance")
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}", f"VENV={sys.prefix}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/v1/health")
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "run.log").read_text()
                assert time.monotonic() < deadline, "the app did not start in time"
                time.sleep(0.3)
        assert status == 200 and '"database":"ok"' in body.replace(" ", "")
        status, page = _get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and 'name="password"' in page
        output = (tmp_path / "run.log").read_text()
        assert "Sign in as admin@demo.proving-ground.cn" in output
        assert (tmp_path / "instance" / "proving_ground.db").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
