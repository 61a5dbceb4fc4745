"""``facerec serve`` start-up failures: one error line, exit 2."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")

from facerec.cli.main import main  # noqa: E402


def test_port_out_of_range(capsys, tmp_path: Path) -> None:
    for port in ("99999", "0", "-1"):
        code = main(["serve", "--port", port, "--db", str(tmp_path / "g.db")])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err


def test_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "facerec.cli.main", "serve", "--port", str(port), "--db",
                               str(tmp_path / "g.db")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("error: cannot listen on 127.0.0.1:") and "in use" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "g.db").exists()  # refused before loading anything
