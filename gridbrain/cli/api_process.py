"""The API as a child process of ``gridbrain up``: started, checked, stopped."""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from gridbrain.cli.embedded import free_port
from gridbrain.settings import Settings

__all__ = ["ApiProcess"]


@dataclass
class ApiProcess:
    """``gridbrain api`` serving the database and broker of an ``up`` run.

    Attributes:
        url: its base URL once it answers (None: it did not start; see the log).
        process: the child process.
    """

    url: str | None
    process: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls, settings: Settings, bootstrap: str, database_url: str | None, wait_s: float = 30.0
    ) -> "ApiProcess":
        """Start it on ``GRIDBRAIN_API_PORT`` (0: a free port); wait until /health answers.

        ``database_url`` is passed only for embedded databases (no secret in it).
        """
        port = settings.api_port or free_port()
        command = [sys.executable, "-m", "gridbrain.cli", "api", "--port", str(port)]
        command += ["--kafka-bootstrap", bootstrap]
        if database_url is not None:
            command += ["--database-url", database_url]
        log = (settings.state_dir / "api.log").open("ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
        url = f"http://{host}:{port}"
        deadline = time.monotonic() + wait_s
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    return cls(url, process)
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        return cls(None, process)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
