// IoT Center live pages: the one polling loop of the dashboard, the device list and the fleet
// overview. It asks a JSON endpoint every few seconds, pauses while the tab is hidden, says
// "Stale ... retrying" when a refresh fails, backs off, and recovers by itself. No inline code
// (CSP): pages load this file before their own script.
"use strict";

window.IoTCenterLive = {
  // poll({ url, everyMs, maxWaitS, maxDoublings, onData, onStatus, liveText }):
  // onData(json) applies an answer (throwing counts as a failed refresh); onStatus(text, state)
  // shows the state ("live", "stale", "paused"); liveText(json) is the text after a good one.
  poll(options) {
    const { url, everyMs, onData, onStatus, liveText } = options;
    const maxWaitS = options.maxWaitS || 60;
    const maxDoublings = options.maxDoublings || 4;
    let failures = 0;
    let timer = null;

    function schedule(ms) {
      if (timer === null) timer = window.setTimeout(refresh, ms);
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
        const data = await response.json();
        onData(data);
        failures = 0;
        onStatus(liveText(data), "live");
      } catch (err) {
        failures += 1;
        const wait = Math.min(maxWaitS, (everyMs / 1000) * 2 ** Math.min(failures, maxDoublings));
        onStatus(`Stale: the last refresh failed (${err.message}); retrying in ${wait} s`, "stale");
        schedule(wait * 1000);
        return;
      }
      schedule(everyMs);
    }

    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        if (timer !== null) window.clearTimeout(timer);
        timer = null;
        onStatus("Paused while the tab is hidden", "paused");
      } else {
        schedule(0);
      }
    });
    schedule(everyMs);
  },
};
