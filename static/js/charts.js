// IoT Center dashboard charts: uPlot (static/vendor) over the page's JSON data block, hover
// with time and value, resize with the page, drag to zoom every chart to that window (the URL
// follows; Reset zoom or a double-click goes back), and a live refresh of relative ranges from
// the JSON endpoint (the alerts panel too, replaced only when it changed). Each chart spans
// the range asked for, as the server-drawn SVG does.
// Without JavaScript the server-drawn SVG and the data tables stay. No inline code: the CSP
// allows scripts from this site only.
"use strict";

(function () {
  const board = document.querySelector(".live-board");
  const block = document.getElementById("board-data");
  if (!board || !block || typeof window.uPlot !== "function") return;

  let data = JSON.parse(block.textContent);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const status = board.querySelector(".live-status");
  const plots = new Map(); // field -> {plot, figure}
  const pageUrl = window.location.href; // what Reset zoom goes back to
  let zoom = null; // {min, max} in epoch seconds while zoomed, else null: the whole range
  const refreshMs = Math.max(2, Number(board.dataset.refresh) || 5) * 1000;

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

  // The x range every chart shows: the zoomed window, else the range of the data block.
  function xRange() {
    return zoom || { min: data.start, max: data.stop };
  }

  function showRange() {
    const range = xRange();
    for (const entry of plots.values()) entry.plot.setScale("x", range);
  }

  function isoUtc(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 19) + "Z";
  }

  let zoomBar = null;
  function zoomBarFor() {
    if (zoomBar) return zoomBar;
    const charts = board.querySelector(".charts");
    if (!charts) return null;
    zoomBar = document.createElement("p");
    zoomBar.className = "zoom-bar";
    zoomBar.hidden = true;
    const text = document.createElement("span");
    const open = document.createElement("a"); // the server's view: stats, tables, track
    open.textContent = "Open this window";
    const reset = document.createElement("button");
    reset.type = "button";
    reset.textContent = "Reset zoom";
    reset.addEventListener("click", () => setZoom(null));
    zoomBar.append(text, " ", open, " ", reset);
    charts.before(zoomBar);
    return zoomBar;
  }

  // Zoom every chart to [min, max] (epoch seconds), or back to the whole range (null). The
  // URL becomes that custom range, so a reload or a shared link shows the same window.
  function setZoom(next) {
    zoom = next && next.max > next.min ? next : null;
    showRange();
    const bar = zoomBarFor();
    let url = pageUrl;
    if (zoom) {
      const params = new URLSearchParams({ start: isoUtc(zoom.min), stop: isoUtc(zoom.max) });
      url = `${window.location.pathname}?${params}`;
    }
    if (bar) {
      bar.hidden = zoom === null;
      if (zoom) {
        bar.querySelector("span").textContent =
          `Zoomed to ${fmtTime(zoom.min)} – ${fmtTime(zoom.max)} (${zone}).`;
        bar.querySelector("a").href = url;
      }
    }
    window.history.replaceState(null, "", url);
  }

  function build(chart) {
    const figure = board.querySelector(`figure.chart[data-field="${CSS.escape(chart.field)}"]`);
    if (!figure) return;
    const host = figure.querySelector(".plot-host");
    const label = chart.unit ? `${chart.field} (${chart.unit})` : chart.field;
    const entry = { figure, plot: null };
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
      cursor: {
        drag: { x: true, y: false, setScale: false },
        bind: { dblclick: () => () => { setZoom(null); return null; } },
      },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width < 2) return;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            setZoom({ min: u.posToVal(left, "x"), max: u.posToVal(left + width, "x") });
          },
        ],
        setScale: [
          (u, key) => {
            if (key !== "x") return;
            figure.dataset.xMin = String(Math.round(u.scales.x.min));
            figure.dataset.xMax = String(Math.round(u.scales.x.max));
          },
        ],
        draw: [(u) => drawThresholds(u, chart.field)],
      },
    };
    host.classList.add("enhanced");
    entry.plot = new window.uPlot(opts, columns(chart), host);
    entry.plot.setScale("x", xRange());
    figure.dataset.updates = "0";
    markThresholds(figure, chart.field);
    plots.set(chart.field, entry);
    new ResizeObserver(() => entry.plot.setSize({ width: widthOf(host), height: 220 })).observe(host);
  }

  // The status line keeps its "last telemetry" part (updated by apply) after the state text.
  const lastSeen = status && status.querySelector("[data-last-seen]");
  function setStatus(text, state) {
    if (!status) return;
    status.replaceChildren(text, ...(lastSeen ? [" · last telemetry ", lastSeen] : []));
    status.dataset.state = state;
  }

  function updateReadings(readings) {
    for (const r of readings) {
      for (const gauge of board.querySelectorAll("figure.gauge")) {
        const caption = gauge.querySelector("figcaption");
        if (!caption || caption.textContent.trim() !== r.field) continue;
        const value = gauge.querySelector(".reading .value");
        if (value) value.textContent = r.value;
        const arc = gauge.querySelector("path.value");
        if (arc && typeof r.arc === "string") arc.setAttribute("d", r.arc);
        const fresh = gauge.querySelector(".freshness");
        if (fresh) {
          fresh.textContent = r.freshness;
          fresh.className = `freshness ${r.freshness_class}`;
        }
      }
    }
  }

  // The alerts panel (server-rendered for this viewer, "alerts": {key, html}): replaced only
  // when its key changed (an alert fired, resolved, was acknowledged; the database failed or
  // recovered), so an Acknowledge button is not replaced under the pointer by a refresh that
  // changed nothing; otherwise only its "(n minutes ago)" texts follow.
  let alertsKey = (data.alerts || {}).key;
  function updateAlerts(alerts) {
    const panel = document.querySelector("section.device-alerts");
    if (!panel || !alerts || typeof alerts.html !== "string") return;
    const parsed = document.createElement("template");
    parsed.innerHTML = alerts.html; // server-escaped markup, no script (CSP)
    const fresh = parsed.content.querySelector("section.device-alerts");
    if (!fresh) return;
    if (alerts.key === alertsKey) {
      const agos = fresh.querySelectorAll(".ago");
      panel.querySelectorAll(".ago").forEach((el, i) => {
        if (agos[i] && el.textContent !== agos[i].textContent) el.textContent = agos[i].textContent;
      });
      return;
    }
    // Keep the keyboard focus on the same alert's button if it is still there.
    const focused = document.activeElement;
    const item = panel.contains(focused) && focused.closest("[data-alert]");
    panel.replaceChildren(...fresh.childNodes);
    alertsKey = alerts.key;
    panel.dataset.updates = String(Number(panel.dataset.updates || 0) + 1);
    if (item) {
      const again = panel.querySelector(`[data-alert="${CSS.escape(item.dataset.alert)}"] button`);
      if (again) again.focus();
    }
  }

  function apply(next) {
    data = next;
    for (const chart of next.charts) {
      const entry = plots.get(chart.field);
      if (!entry) continue;
      entry.plot.batch(() => {
        entry.plot.setData(columns(chart));
        entry.plot.setScale("x", xRange());
      });
      entry.figure.dataset.updates = String(Number(entry.figure.dataset.updates) + 1);
      markThresholds(entry.figure, chart.field);
      entry.figure.dataset.last = chart.v.length ? String(chart.v[chart.v.length - 1]) : "";
    }
    updateReadings(next.readings);
    if (lastSeen && next.last_seen) {
      lastSeen.textContent = new Date(next.last_seen).toLocaleString();
    }
  }

  data.charts.forEach(build);
  if (board.dataset.live === "1") {
    setStatus(`Live: updates every ${refreshMs / 1000} s (times in ${zone})`, "live");
    window.IoTCenterLive.poll({
      url: board.dataset.liveUrl,
      everyMs: refreshMs,
      onData(next) {
        updateAlerts(next.alerts); // also when the charts could not be read
        if (next.error) throw new Error(next.error);
        apply(next);
      },
      onStatus: setStatus,
      liveText: () => `Live: updated ${new Date().toLocaleTimeString()} (times in ${zone})`,
    });
  }
})();
