"""Real-browser tests: Debian's Chromium (apt), driven by Playwright; never `playwright install`."""

CHROMIUM = "/usr/bin/chromium"
# Headless on a machine whose only network is loopback: no background traffic, no sandbox (root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
