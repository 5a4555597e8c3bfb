"""A real headless Chromium driven over the DevTools protocol, for the status page test.

``find_chromium`` returns the browser, installing Debian's ``chromium``
package with apt-get when it is missing and we are root; otherwise it says
why it cannot, and the test is skipped with that reason.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

INSTALL_TIMEOUT_S = 600
DEVTOOLS_LINE = re.compile(rb"DevTools listening on (ws://[^\s]+)")


def find_chromium() -> tuple[str | None, str]:
    """(path of chromium, "") or (None, why it is not there)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (
            None,
            "chromium is not installed and cannot be (needs root and apt-get): apt-get install chromium",
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    done = subprocess.run(install, capture_output=True, env=env, timeout=INSTALL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        subprocess.run(
            ["apt-get", "update"], capture_output=True, env=env, timeout=INSTALL_TIMEOUT_S, check=False
        )
        done = subprocess.run(install, capture_output=True, env=env, timeout=INSTALL_TIMEOUT_S, check=False)
    path = shutil.which("chromium")
    if path is None:
        tail = done.stderr.decode(errors="replace")[-300:]
        return None, f"apt-get install chromium failed (status {done.returncode}): {tail}"
    return path, ""


class Browser:
    """One headless Chromium process and one page, driven over its DevTools WebSocket."""

    def __init__(self, executable: str, profile: Path, trusted_certificates: Sequence[Path] = ()) -> None:
        self._executable = executable
        self._profile = profile
        # The hubs' certificates come from the network's own CA, which the browser does not know:
        # accept exactly these certificates' keys, as an operator who added the CA would.
        self._spki_hashes = [_compute_spki_hash(path) for path in trusted_certificates]
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._page: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Browser:
        self._process = await asyncio.create_subprocess_exec(
            self._executable,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            "--window-size=1280,900",
            *(
                [f"--ignore-certificate-errors-spki-list={','.join(self._spki_hashes)}"]
                if self._spki_hashes
                else []
            ),
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        browser_url = await asyncio.wait_for(self._read_devtools_url(), 30)
        port = re.search(r":(\d+)/", browser_url)
        if port is None:
            raise RuntimeError(f"no port in {browser_url}")
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port.group(1)}/json/list") as response:
            targets = await response.json()
        page = next(target for target in targets if target["type"] == "page")
        self._page = await self._session.ws_connect(
            page["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._page is not None:
            await self._page.close()
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    async def _read_devtools_url(self) -> str:
        if self._process is None or self._process.stderr is None:
            raise RuntimeError("chromium was not started")
        async for line in self._process.stderr:
            found = DEVTOOLS_LINE.search(line)
            if found:
                return found.group(1).decode()
        raise RuntimeError("chromium exited before opening its DevTools port")

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        if self._page is None:
            raise RuntimeError("no page")
        message_id = next(self._ids)
        await self._page.send_json({"id": message_id, "method": method, "params": params})
        while True:
            answer = await self._page.receive_json(timeout=30)
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    async def open(self, url: str) -> None:
        await self.call("Page.enable")
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screenshot(self, path: Path) -> None:
        result = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(result["data"]))


def _compute_spki_hash(path: Path) -> str:
    """base64 SHA-256 of a certificate's public key, as chromium's SPKI lists want it."""
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
