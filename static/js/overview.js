// IoT Center fleet overview: refreshes the numbers (registered, online, silent, never seen,
// points in the last hour) from the overview's JSON endpoint every few seconds. Pauses while
// the tab is hidden; on errors says the numbers are stale and backs off. No inline code (CSP).
"use strict";

(function () {
  const tiles = document.querySelector("dl.tiles[data-live-url]");
  if (!tiles) return;
  const status = document.querySelector(".live-status");
  const refreshMs = Math.max(2, Number(tiles.dataset.refresh) || 15) * 1000;

  function setStatus(text, state) {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  }

  window.IoTCenterLive.poll({
    url: tiles.dataset.liveUrl,
    everyMs: refreshMs,
    maxWaitS: 120,
    maxDoublings: 3,
    onData(data) {
      for (const [name, value] of Object.entries(data.stats)) {
        const cell = tiles.querySelector(`[data-stat="${name}"]`);
        if (cell) cell.textContent = String(value);
      }
      tiles.dataset.updates = String(Number(tiles.dataset.updates || 0) + 1);
    },
    onStatus: setStatus,
    liveText: (data) => `Live: numbers as of ${data.generated}, updated every ${refreshMs / 1000} s`,
  });
})();
