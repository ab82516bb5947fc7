// IoT Center fleet overview: refreshes the numbers (registered, online, silent, never seen,
// points in the last hour) from the overview's JSON endpoint every few seconds. Pauses while
// the tab is hidden; on errors says the numbers are stale and backs off. No inline code (CSP).
"use strict";

(function () {
  const tiles = document.querySelector("dl.tiles[data-live-url]");
  if (!tiles) return;
  const status = document.querySelector(".live-status");
  const refreshMs = Math.max(2, Number(tiles.dataset.refresh) || 15) * 1000;
  let failures = 0;
  let timer = null;

  function setStatus(text, state) {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  }

  async function refresh() {
    timer = null;
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const response = await fetch(tiles.dataset.liveUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      for (const [name, value] of Object.entries(data.stats)) {
        const cell = tiles.querySelector(`[data-stat="${name}"]`);
        if (cell) cell.textContent = String(value);
      }
      tiles.dataset.updates = String(Number(tiles.dataset.updates || 0) + 1);
      failures = 0;
      setStatus(`Live: numbers as of ${data.generated}, updated every ${refreshMs / 1000} s`, "live");
    } catch (err) {
      failures += 1;
      const wait = Math.min(120, (refreshMs / 1000) * 2 ** Math.min(failures, 3));
      setStatus(`Stale: the last refresh failed (${err.message}); retrying in ${wait} s`, "stale");
      schedule(wait * 1000);
      return;
    }
    schedule(refreshMs);
  }

  function schedule(ms) {
    if (timer === null) timer = window.setTimeout(refresh, ms);
  }

  schedule(refreshMs);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
      setStatus("Paused while the tab is hidden", "paused");
    } else {
      schedule(0);
    }
  });
})();
