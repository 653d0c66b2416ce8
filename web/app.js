// SmartTech dashboard: polls /api/state every second (and the selected room's series every two),
// renders with DOM calls only (values are set as text, never as HTML).
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const UNITS = { temperature: "°C", humidity: "%", co2: "ppm", pressure: "hPa" };
  const STATE_MS = 1000, SERIES_MS = 2000;
  let lastSeq = -1, selected = null, charts = {}, lastSeriesAt = 0, lastState = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–"; }
  function roomKey(r) { return r.building + "/" + r.floor + "/" + r.room; }
  async function getJSON(url) {
    const r = await fetch(url, { headers, cache: "no-store" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  function renderGrid(st) {
    const grid = document.getElementById("grid");
    const alerted = new Set(st.alerts.open.map((a) => a.building + "/" + a.floor + "/" + a.room));
    grid.replaceChildren();
    let building = null, floor = null, rooms = null, floorKey = null;
    for (const r of st.rooms) {
      if (!building || building.dataset.building !== r.building) {
        building = el("div", "building");
        building.dataset.building = r.building;
        building.appendChild(el("h3", null, "Building " + r.building));
        grid.appendChild(building);
        floorKey = null;
      }
      if (floorKey !== r.floor) {
        floor = el("div", "floor");
        floor.appendChild(el("div", "floor-label", "floor " + r.floor));
        rooms = el("div", "rooms");
        floor.appendChild(rooms);
        building.appendChild(floor);
        floorKey = r.floor;
      }
      const key = roomKey(r);
      const cell = el("div", "room" + (key === selected ? " selected" : "") + (alerted.has(key) ? " has-alert" : ""));
      cell.dataset.building = r.building;
      cell.dataset.floor = r.floor;
      cell.dataset.room = r.room;
      cell.appendChild(el("div", "room-name", r.room));
      for (const type of Object.keys(r.sensors).sort()) {
        const s = r.sensors[type];
        const v = el("span", "val lv-" + s.level, type + " " + fmt(s.avg) + " " + (UNITS[type] || ""));
        v.dataset.sensor = type;
        v.dataset.avg = String(s.avg);
        v.dataset.level = s.level;
        v.dataset.windowStart = s.window_start;
        v.title = "window " + time(s.window_start) + ": avg " + s.avg + ", min " + s.min + ", max " + s.max + ", " + s.count + " readings";
        cell.appendChild(v);
      }
      cell.addEventListener("click", () => { selected = key; lastSeriesAt = 0; renderGrid(lastState); tick(); });
      rooms.appendChild(cell);
    }
    if (!st.rooms.length) grid.appendChild(el("p", "hint", "No Gold windows yet."));
  }

  function renderAlerts(st) {
    const open = document.querySelector("#open-alerts tbody");
    open.replaceChildren();
    for (const a of st.alerts.open) {
      const tr = el("tr", "open");
      tr.dataset.alertId = a.alert_id;
      for (const c of [a.rule, a.building + " f" + a.floor + " " + a.room, a.sensor_id, fmt(a.value), fmt(a.threshold), time(a.opened)])
        tr.appendChild(el("td", null, c));
      open.appendChild(tr);
    }
    const n = document.getElementById("open-count");
    n.textContent = String(st.alerts.open.length);
    n.className = "count" + (st.alerts.open.length ? "" : " zero");
    const hist = document.querySelector("#alert-history tbody");
    hist.replaceChildren();
    for (const h of st.alerts.history.slice(0, 50)) {
      const tr = el("tr", h.state);
      tr.dataset.alertId = h.alert_id;
      tr.dataset.state = h.state;
      const where = h.building ? h.building + " f" + h.floor + " " + h.room : "";
      for (const c of [h.state, h.rule || "", where, fmt(h.value), time(h.event_time)]) tr.appendChild(el("td", null, c));
      hist.appendChild(tr);
    }
  }

  function kv(box, k, v, cls) {
    box.appendChild(el("span", null, k));
    box.appendChild(el("span", cls || null, v));
  }

  function renderHealth(st) {
    const h = st.health, box = document.getElementById("health");
    box.replaceChildren();
    for (const j of h.jobs || []) {
      box.appendChild(el("h4", null, "job " + j.name + (j.up ? (j.ready ? " (ready)" : " (not ready)") : " (down)")));
      const g = el("div", "kv");
      if (!j.up) kv(g, "error", j.error || "", "err");
      kv(g, "events/s", fmt(j.events_per_s));
      kv(g, "events in", String(j.events_in));
      kv(g, "lag", j.lag === null ? "–" : String(j.lag));
      for (const [r, n] of Object.entries(j.quarantine)) kv(g, "quarantine " + r, String(n));
      for (const [t, v] of Object.entries(j.tables)) kv(g, t, "v" + v.version + " · " + time(v.last_commit));
      box.appendChild(g);
    }
    box.appendChild(el("h4", null, "tables"));
    const g = el("div", "kv");
    g.dataset.health = "tables";
    kv(g, "Silver rows/s", fmt(h.silver_rows_per_s));
    for (const t of h.tables) {
      if (t.version === undefined) kv(g, t.name, t.error || "–", "err");
      else kv(g, t.name, "v" + t.version + " · " + t.rows + " rows · " + t.files + " files · " + time(t.last_commit));
    }
    const reasons = Object.entries(h.quarantine).sort((a, b) => b[1] - a[1]);
    for (const [r, n] of reasons) kv(g, "quarantine " + r, String(n));
    if (h.error) kv(g, "error", h.error, "err");
    box.appendChild(g);
  }

  function renderCharts(sr) {
    const box = document.getElementById("charts");
    document.getElementById("detail-title").textContent =
      "Room " + sr.room + " · building " + sr.building + " floor " + sr.floor + " · last " + sr.minutes + " min";
    const width = Math.max(280, box.clientWidth - 10);
    for (const type of Object.keys(sr.series).sort()) {
      const s = sr.series[type];
      const data = [s.t, s.avg, s.min, s.max];
      let c = charts[type];
      if (!c) {
        const wrap = el("div", "chart");
        wrap.dataset.sensor = type;
        wrap.appendChild(el("h4", null, type + " (" + (UNITS[type] || "") + "): avg, min–max band"));
        box.appendChild(wrap);
        const plot = new uPlot({
          width, height: 150,
          series: [{}, { label: "avg", stroke: "#1d6fd6", width: 2 },
                   { label: "min", stroke: "rgba(29,111,214,0.25)" }, { label: "max", stroke: "rgba(29,111,214,0.25)" }],
          bands: [{ series: [3, 2], fill: "rgba(29,111,214,0.12)" }],
          scales: { x: { time: true } },
          legend: { show: true },
        }, data, wrap);
        c = charts[type] = { plot, wrap };
      } else {
        c.plot.setData(data);
      }
      c.wrap.dataset.points = String(s.t.length);
    }
  }

  async function tick() {
    const status = document.getElementById("status");
    try {
      const st = await getJSON("api/state");
      lastState = st;
      if (st.seq !== lastSeq) {
        lastSeq = st.seq;
        if (!selected && st.rooms.length) selected = roomKey(st.rooms[0]);
        renderGrid(st);
        renderAlerts(st);
      }
      renderHealth(st);
      status.textContent = "data time " + time(st.data_time) + " · updated " + time(st.generated_at) +
        " · " + st.rooms.length + " rooms · " + st.alerts.open.length + " open alerts";
      status.className = "status";
      document.body.dataset.seq = String(st.seq);
      if (selected && Date.now() - lastSeriesAt >= SERIES_MS) {
        lastSeriesAt = Date.now();
        const [b, f, r] = selected.split("/");
        const q = new URLSearchParams({ building: b, floor: f, room: r, minutes: "60" });
        const key = selected;
        const sr = await getJSON("api/series?" + q.toString());
        if (key !== document.getElementById("charts").dataset.room) {
          for (const c of Object.values(charts)) { c.plot.destroy(); c.wrap.remove(); }
          charts = {};
          document.getElementById("charts").dataset.room = key;
        }
        renderCharts(sr);
      }
    } catch (err) {
      status.textContent = "no answer from the dashboard server (" + err.message + "), retrying";
      status.className = "status down";
    }
  }

  tick();
  setInterval(tick, STATE_MS);
})();
