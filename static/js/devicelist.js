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

  setStatus(`Live: last telemetry updates every ${refreshMs / 1000} s`, "live");
  window.IoTCenterLive.poll({
    url,
    everyMs: refreshMs,
    onData: apply,
    onStatus: setStatus,
    liveText: () => `Live: last telemetry updated ${new Date().toLocaleTimeString()}`,
  });
})();
