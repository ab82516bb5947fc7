// IoT Center device list: keeps each row's "last telemetry" and freshness label current by
// polling the page's JSON endpoint (one query for the page's devices) every few seconds.
// Pauses while the tab is hidden; on errors says the times are stale and backs off. Without
// JavaScript the page shows the times of its load. No inline code (CSP).
"use strict";

(function () {
  const table = document.querySelector("table.devices[data-live-url]");
  if (!table) return;
  const rows = Array.from(table.querySelectorAll("tr[data-device]"));
  if (!rows.length) return;
  const status = document.querySelector(".live-status");
  const refreshMs = Math.max(2, Number(table.dataset.refresh) || 5) * 1000;
  const url = new URL(table.dataset.liveUrl, window.location.href);
  for (const row of rows) url.searchParams.append("d", row.dataset.device);
  let failures = 0;
  let timer = null;

  function setStatus(text, state) {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  }

  function render(cell, info) {
    cell.replaceChildren();
    if (info.last_seen) {
      const time = document.createElement("time");
      time.dateTime = info.last_seen;
      time.title = info.utc;
      time.textContent = info.utc;
      const ago = document.createElement("span");
      ago.className = "ago";
      ago.textContent = `(${info.ago})`;
      cell.append(time, " ", ago, " ");
    } else {
      const never = document.createElement("span");
      never.className = "muted";
      never.textContent = "never";
      cell.append(never, " ");
    }
    const badge = document.createElement("span");
    badge.className = `freshness ${info.class}`;
    badge.textContent = info.freshness;
    cell.append(badge);
  }

  function apply(data) {
    for (const row of rows) {
      const info = data.devices[row.dataset.device];
      const cell = row.querySelector("td.last-seen");
      if (!info || !cell) continue;
      render(cell, info);
      row.dataset.updates = String(Number(row.dataset.updates || 0) + 1);
    }
  }

  async function refresh() {
    timer = null;
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      apply(await response.json());
      failures = 0;
      setStatus(`Live: last telemetry updated ${new Date().toLocaleTimeString()}`, "live");
    } catch (err) {
      failures += 1;
      const wait = Math.min(60, (refreshMs / 1000) * 2 ** Math.min(failures, 4));
      setStatus(`Stale: the last refresh failed (${err.message}); retrying in ${wait} s`, "stale");
      schedule(wait * 1000);
      return;
    }
    schedule(refreshMs);
  }

  function schedule(ms) {
    if (timer === null) timer = window.setTimeout(refresh, ms);
  }

  setStatus(`Live: last telemetry updates every ${refreshMs / 1000} s`, "live");
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
