"""Render an HTML file in a real headless Chromium (the Debian package) and measure what it drew.

The page is loaded as a user's browser would load it (a `file://` URL, scripts on), with every
host name resolving nowhere, so a page that needs the network shows it. A probe script appended
after the page's own content measures, after layout, every figure (its SVG's size, and each of
its marks `sw-<kind>-…` with a non-empty box), every table's rows, and the resources the page
asked for; `--dump-dom` prints the DOM with the probe's JSON in it. A listener put first in the
page records uncaught exceptions, `console.error` calls and resources that failed to load."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
REQUIRE_ENV = "SWEEP_REQUIRE_BROWSER"
"""Set (as `.ci/run` does) to fail instead of skip where no Chromium is installed."""

LISTEN = """<script>
window.sweepErrors = [];
addEventListener('error', (e) => sweepErrors.push(e.message || `failed to load ${e.target.src || e.target.href}`), true);
const consoleError = console.error;
console.error = (...args) => { sweepErrors.push(args.join(' ')); consoleError(...args); };
</script>"""
"""Put first in <head>: records uncaught exceptions, console.error calls and resources that failed to load."""

PROBE = """
<script>
(() => {
  const marks = (root) => {
    const found = {};
    for (const el of root.querySelectorAll('[id^="sw-"]')) {
      const kind = el.id.split('-')[1];
      const box = el.getBoundingClientRect();
      found[kind] = found[kind] || {count: 0, drawn: 0};
      found[kind].count += 1;
      if (box.width > 0 || box.height > 0) found[kind].drawn += 1;  // a box of equal values is a line
    }
    return found;
  };
  const heading = (el) => {
    for (let at = el.previousElementSibling; at; at = at.previousElementSibling) {
      if (/^H[1-3]$/.test(at.tagName)) return at.textContent;
    }
    return '';
  };
  const figures = [...document.querySelectorAll('figure')].map((f) => {
    const svgs = f.querySelectorAll('svg');
    const box = svgs.length ? svgs[0].getBoundingClientRect() : {width: 0, height: 0};
    return {
      kind: f.dataset.kind || '',
      caption: (f.querySelector('figcaption') || {textContent: ''}).textContent,
      svgs: svgs.length, width: box.width, height: box.height, marks: marks(f),
      cells: [...f.querySelectorAll('[id^="sw-cell-"]')].map((g) => g.querySelectorAll('path, use').length),
    };
  });
  const tables = [...document.querySelectorAll('table')].map((t) => ({
    heading: heading(t), rows: t.rows.length, columns: t.rows.length ? t.rows[0].cells.length : 0,
    visible: t.getBoundingClientRect().height > 0,
  }));
  const resources = performance.getEntriesByType('resource').map((e) => e.name);
  const out = document.createElement('pre');
  out.id = 'sweep-probe';
  const errors = window.sweepErrors || ['the error listener did not run'];
  out.textContent = JSON.stringify({title: document.title, figures, tables, resources, errors});
  document.body.appendChild(out);
})();
</script>
"""


@dataclass
class Rendered:
    title: str
    figures: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    resources: list[str]
    console_errors: list[str]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.figures if f["kind"] == kind]


def find_chromium() -> str:
    """The Chromium executable; skips the test (fails it under `SWEEP_REQUIRE_BROWSER`) without one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = "no headless Chromium on PATH (`apt-get install -y chromium`; `.ci/run` installs it)"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, and {REQUIRE_ENV} is set")
    pytest.skip(reason)


def render(chromium: str, page: Path, timeout_s: float = 45) -> Rendered:
    """Load `page` (a copy with the probe appended) in headless Chromium and return what it measured."""
    text = page.read_text()
    probed = text.replace("<head>", "<head>" + LISTEN, 1) if "<head>" in text else LISTEN + text
    probed = probed.replace("</body>", PROBE + "</body>") if "</body>" in probed else probed + PROBE
    with tempfile.TemporaryDirectory(prefix="sweep-browser-") as work:
        copy = Path(work) / page.name
        copy.write_text(probed)
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # tests run as root in CI containers, where the sandbox cannot start
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={work}/profile",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any host name fails to resolve
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            copy.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    match = re.search(r'<pre id="sweep-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert match, f"the probe did not run (exit {done.returncode}); stderr:\n{done.stderr[-3000:]}"
    data = json.loads(html.unescape(match.group(1)))
    # an exception in a page script before the listener ran shows only in Chromium's log
    uncaught = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    return Rendered(data["title"], data["figures"], data["tables"], data["resources"], data["errors"] + uncaught)
