// IoT Center dashboard charts: uPlot (static/vendor) over the page's JSON data block, hover
// with time and value, resize with the page, drag to zoom (double-click resets), and a live
// refresh of relative ranges from the JSON endpoint. Without JavaScript the server-drawn SVG
// and the data tables stay. No inline code: the CSP allows scripts from this site only.
"use strict";

(function () {
  const board = document.querySelector(".live-board");
  const block = document.getElementById("board-data");
  if (!board || !block || typeof window.uPlot !== "function") return;

  let data = JSON.parse(block.textContent);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const status = board.querySelector(".live-status");
  const plots = new Map(); // field -> {plot, figure, zoomed}
  const refreshMs = Math.max(2, Number(board.dataset.refresh) || 5) * 1000;
  let failures = 0;
  let timer = null;

  function fmtTime(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function fmtValue(value) {
    if (value === null || value === undefined) return "—";
    const abs = Math.abs(value);
    if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(3);
    return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
  }

  function columns(chart) {
    return [chart.t, chart.v];
  }

  // Alert rules' thresholds of a field (board JSON "thresholds"): dashed lines on its chart,
  // and the y scale stretched to show them.
  function thresholdsOf(field) {
    return ((data.thresholds || {})[field] || []).filter((v) => Number.isFinite(v));
  }

  function drawThresholds(u, field) {
    const values = thresholdsOf(field);
    if (!values.length) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = "#c5221f";
    const dpr = window.devicePixelRatio || 1;
    ctx.lineWidth = 2 * dpr;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    for (const v of values) {
      const y = Math.round(u.valToPos(v, "y", true));
      if (y < bbox.top || y > bbox.top + bbox.height) continue;
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
    }
    ctx.restore();
  }

  function yRange(field) {
    return (u, min, max) => {
      const values = thresholdsOf(field);
      let lo = min;
      let hi = max;
      for (const v of values) {
        lo = lo === null || lo === undefined ? v : Math.min(lo, v);
        hi = hi === null || hi === undefined ? v : Math.max(hi, v);
      }
      if (lo === null || lo === undefined) return [0, 1];
      return window.uPlot.rangeNum(lo, hi, 0.1, true);
    };
  }

  function markThresholds(figure, field) {
    figure.dataset.thresholds = thresholdsOf(field).join(" ");
  }

  function widthOf(host) {
    return Math.max(200, Math.floor(host.getBoundingClientRect().width));
  }

  function build(chart) {
    const figure = board.querySelector(`figure.chart[data-field="${CSS.escape(chart.field)}"]`);
    if (!figure) return;
    const host = figure.querySelector(".plot-host");
    const label = chart.unit ? `${chart.field} (${chart.unit})` : chart.field;
    const entry = { figure, zoomed: false, plot: null };
    const opts = {
      width: widthOf(host),
      height: 220,
      scales: { x: { time: true }, y: { range: yRange(chart.field) } },
      series: [
        { label: `Time (${zone})`, value: (u, v) => (v === null ? "—" : fmtTime(v)) },
        { label, stroke: "#2256c5", width: 2, spanGaps: false, value: (u, v) => fmtValue(v),
          points: { show: chart.t.length < 60 } },
      ],
      axes: [{}, { values: (u, splits) => splits.map(fmtValue), size: 70 }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [() => { entry.zoomed = true; }],
        draw: [(u) => drawThresholds(u, chart.field)],
      },
    };
    host.classList.add("enhanced");
    entry.plot = new window.uPlot(opts, columns(chart), host);
    host.addEventListener("dblclick", () => { entry.zoomed = false; });
    figure.dataset.updates = "0";
    markThresholds(figure, chart.field);
    plots.set(chart.field, entry);
    new ResizeObserver(() => entry.plot.setSize({ width: widthOf(host), height: 220 })).observe(host);
  }

  function setStatus(text, state) {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  }

  function updateReadings(readings) {
    for (const r of readings) {
      for (const gauge of board.querySelectorAll("figure.gauge")) {
        const caption = gauge.querySelector("figcaption");
        if (!caption || caption.textContent.trim() !== r.field) continue;
        const value = gauge.querySelector(".reading .value");
        if (value) value.textContent = r.value;
        const fresh = gauge.querySelector(".freshness");
        if (fresh) {
          fresh.textContent = r.freshness;
          fresh.className = `freshness ${r.freshness_class}`;
        }
      }
    }
  }

  function apply(next) {
    data = next;
    for (const chart of next.charts) {
      const entry = plots.get(chart.field);
      if (!entry) continue;
      entry.plot.setData(columns(chart), !entry.zoomed);
      entry.figure.dataset.updates = String(Number(entry.figure.dataset.updates) + 1);
      markThresholds(entry.figure, chart.field);
      entry.figure.dataset.last = chart.v.length ? String(chart.v[chart.v.length - 1]) : "";
    }
    updateReadings(next.readings);
    const seen = board.querySelector("[data-last-seen]");
    if (seen && next.last_seen) seen.textContent = new Date(next.last_seen).toLocaleString();
  }

  async function refresh() {
    timer = null;
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const response = await fetch(board.dataset.liveUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const next = await response.json();
      if (next.error) throw new Error(next.error);
      apply(next);
      failures = 0;
      setStatus(`Live: updated ${new Date().toLocaleTimeString()} (times in ${zone})`, "live");
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

  data.charts.forEach(build);
  if (board.dataset.live === "1") {
    setStatus(`Live: updates every ${refreshMs / 1000} s (times in ${zone})`, "live");
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
  }
})();
