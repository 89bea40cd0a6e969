#!/usr/bin/env bash
# Make sure a headless Chromium is on PATH for the `browser` test tier (the report rendered in a
# real browser). Installs the Debian package `chromium` when missing; playwright/puppeteer browser
# downloads are not used (they need hosts CI cannot reach). Prints the executable's path.
set -euo pipefail

for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    exit 0
  fi
done

echo "chromium.sh: no Chromium on PATH; installing the Debian package \`chromium\`" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: cannot install Chromium here: no apt-get. Install a Chromium (or Chrome) so that" \
       "\`chromium\` is on PATH, then rerun." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "chromium.sh: cannot install Chromium: apt-get needs root and sudo is not available without a" \
         "password. Run \`sudo apt-get install -y chromium\`, then rerun." >&2
    exit 1
  fi
fi
if ! { $SUDO apt-get install -y --no-install-recommends chromium >&2 \
       || { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends chromium >&2; }; }; then
  echo "chromium.sh: \`apt-get install chromium\` failed (see above): check the network and the apt sources." >&2
  exit 1
fi
command -v chromium
