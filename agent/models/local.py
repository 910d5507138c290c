"""Local GGUF models: llama.cpp's own OpenAI-compatible server, in-process, through xllamacpp.

`PETSAGE_MODEL=local:/path/model.gguf` starts the server on a free loopback port (its `/health`
answers 503 until the model is loaded) and talks to it through the same Chat Completions adapter
as any other server. xllamacpp is an optional extra: `pip install 'petsage-builder[local]'`.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, ModelError
from agent.models.openai_chat import OpenAIChatModel
from agent.settings import Settings

LOAD_TIMEOUT = 120.0


class LocalModel(OpenAIChatModel):
    """A GGUF file served by llama.cpp inside this process."""

    def __init__(self, path: Path, settings: Settings, *, context_tokens: int = 8192) -> None:
        if not path.is_file():
            raise ConfigError(f"PETSAGE_MODEL=local:{path}: no such model file")
        # One server on this machine's CPUs answers every build admitted at once, in turn: a
        # request may wait for theirs, so its wall-clock limit is `PETSAGE_MODEL_TIMEOUT` per
        # admitted build, never a limit the machine's load trips (issue 28).
        slots = settings.build_slots()
        super().__init__(
            path.stem, settings.model_copy(update={"model_timeout": settings.model_timeout * slots})
        )
        self.name = f"local:{path.name}"
        self.path = path
        self.context_tokens = context_tokens
        self._server: Any = None
        self._base_url: str | None = None

    def endpoint(self) -> tuple[str | None, str]:
        if self._base_url is None:
            self._base_url = self._start()
        return self._base_url, "local"

    def _start(self) -> str:
        try:
            import xllamacpp
        except ImportError as e:
            raise ConfigError(
                "PETSAGE_MODEL=local: needs the optional extra: "
                "pip install 'petsage-builder[local]'"
            ) from e
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.port = _free_port()
        params.n_ctx = self.context_tokens
        params.cpuparams.n_threads = os.cpu_count() or 1
        params.verbosity = 0
        try:
            self._server = xllamacpp.Server(params)
        except Exception as e:  # the binding raises plain exceptions
            raise ModelError(f"llama.cpp could not load {self.path}: {e}") from e
        base = f"http://127.0.0.1:{params.port}"
        _wait_healthy(base, LOAD_TIMEOUT)
        return f"{base}/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, timeout: float) -> None:
    """Wait for `/health` to answer 200 (llama.cpp answers 503 while it loads the model)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ModelError(f"the local model server at {base} was not ready in {timeout:.0f} s")
        time.sleep(0.1)
