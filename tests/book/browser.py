"""A minimal headless-Chromium driver over the DevTools protocol, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads JSON commands
from file descriptor 3 and writes replies and events to descriptor 4, each
message ended by a NUL byte. That is enough to load a page, collect its
JavaScript errors and evaluate expressions in it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


# where the installers put Chrome or Chromium on macOS and Windows (not on the PATH there)
CHROMIUM_PLACES = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
)


def find_chromium() -> str | None:
    """``$CHROMIUM`` if set, else the first of CHROMIUM_NAMES on the PATH, else CHROMIUM_PLACES."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    on_path = (shutil.which(name) for name in CHROMIUM_NAMES)
    return next((p for p in on_path if p), None) or next(
        (p for p in CHROMIUM_PLACES if os.path.isfile(p)), None
    )


@dataclass
class PageReport:
    exceptions: list[str] = field(default_factory=list)  # uncaught JavaScript errors
    console_errors: list[str] = field(default_factory=list)  # console.error and browser log errors
    failed_requests: list[str] = field(default_factory=list)  # URLs that could not be loaded
    values: dict = field(default_factory=dict)  # results of the expressions evaluated after load
    ready: bool = False  # whether the page's readiness condition held before the deadline
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


class Chromium:
    def __init__(self, binary: str):
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads fd 3 and writes fd 4. bash puts our pipe ends there (no
        # preexec_fn, which is unsafe with threads); fds >= 10 keep the moves apart.
        r, w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$@" 3<&{r} 4>&{w} {r}<&- {w}>&-',
                "bash",
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(r, w),
        )
        os.close(r)  # the child holds them now
        os.close(w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)  # lets the helper processes exit too
            self.proc.wait(timeout=10)
        except (RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self._profile.cleanup()

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_browser], [], [], remaining)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(
            e.get("method") == method and e.get("sessionId") == session for e in self.events
        ):
            self.events.append(self._read_message(deadline))

    def load(
        self,
        url: str,
        expressions: dict[str, str],
        ready: str = "document.readyState === 'complete'",
        timeout: float = 30.0,
    ) -> PageReport:
        """Open ``url``, wait until the JavaScript condition ``ready`` holds (polled, with a
        deadline: CI machines are slow and noisy), and report errors and the expressions' values."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        report = PageReport()
        deadline = time.monotonic() + timeout
        while not report.ready and time.monotonic() < deadline:  # events keep arriving meanwhile
            check = self.send(
                "Runtime.evaluate", {"expression": ready, "returnByValue": True}, session=session
            )
            report.ready = check.get("result", {}).get("value") is True
            if not report.ready:
                time.sleep(0.1)
        for name, expression in expressions.items():
            result = self.send(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True},
                session=session,
            )
            report.values[name] = result.get("result", {}).get("value")
        self.send("Target.closeTarget", {"targetId": target})
        events = [e for e in self.events if e.get("sessionId") == session]
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                report.exceptions.append(
                    f"{text} ({details.get('url', '')}:{details.get('lineNumber')})"
                )
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                report.console_errors.append(
                    " ".join(
                        str(a.get("value", a.get("description"))) for a in params.get("args", [])
                    )
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                if entry.get("source") != "network":
                    report.console_errors.append(f"{entry['text']} ({entry.get('url', '')})")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                report.failed_requests.append(
                    f"{params['response']['url']} (HTTP {params['response']['status']})"
                )
            if method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                request = next(
                    (
                        e["params"]["request"]["url"]
                        for e in events
                        if e.get("method") == "Network.requestWillBeSent"
                        and e["params"]["requestId"] == params["requestId"]
                    ),
                    "?",
                )
                report.failed_requests.append(request)
        return report
