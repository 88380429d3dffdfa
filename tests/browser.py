"""Open a page in headless Chromium (Debian's `chromium` package) and report what a user would see."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
]
# Chromium prints page console messages and uncaught exceptions to stderr as `...:CONSOLE(line)] "msg"`.
CONSOLE = re.compile(r"CONSOLE\(\d+\)\]|Uncaught ")


@dataclass
class Page:
    dom: str
    console: list[str]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `make test` installs it when run as root)")
    return exe


def open_page(html: Path, workdir: Path, screenshot: Path | None = None) -> Page:
    exe = chromium()
    profile = workdir / "chromium-profile"
    url = html.resolve().as_uri()
    dom = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if CONSOLE.search(line)]
    if screenshot is not None:
        shot = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--window-size=1280,1800", url],
            capture_output=True, text=True, timeout=120,
        )
        console += [line for line in shot.stderr.splitlines() if CONSOLE.search(line)]
    return Page(dom=dom.stdout, console=console)


def webdriver(workdir: Path):
    """A headless Chromium driven through WebDriver (Debian's `chromium-driver` + selenium), with
    the page's console kept for inspection. Skips, saying what is missing, where either is absent."""
    exe = chromium()
    driver_exe = shutil.which("chromedriver")
    if driver_exe is None:
        pytest.skip("chromedriver is not installed (Debian: apt-get install chromium-driver; `make test` installs it when run as root)")
    selenium = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    options = selenium.ChromeOptions()
    options.binary_location = exe
    for flag in FLAGS:
        if not flag.startswith(("--enable-logging", "--v=")):
            options.add_argument(flag)
    options.add_argument(f"--user-data-dir={workdir / 'chromium-profile'}")
    options.add_argument("--window-size=1000,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return selenium.Chrome(options=options, service=Service(driver_exe))
