// The live caseload map: one marker per person with a last position, clustered (leaflet.markercluster)
// and coloured by the person's worst open alert, greyed when the position is stale. Positions move live
// from /api/v1/positions/stream (at most one batch a second); updates are applied once per animation
// frame, moving only the markers that changed, so clusters are never rebuilt per event. After every
// (re)connection the page re-reads /api/v1/positions/live, so a position published while it was away
// is not lost. Alert notices (live.js's "ewall:alert") recolour the person. Markers are drawn on a
// canvas; names only ever reach the page as textContent.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("caseload-map").textContent);
  const COLOURS = { red: "#d62728", yellow: "#f0ad00", normal: "#2ca02c" };
  const STALE_FILL = "#9e9e9e";
  const LEVEL_TEXT = { red: "红色报警 red", yellow: "黄色预警 yellow", normal: "正常 normal" };
  const RANK = { normal: 0, yellow: 1, red: 2 };
  const NAMES = ["normal", "yellow", "red"];
  const SEARCH_RESULTS = 20;
  const STALE_CHECK_MS = 30_000;
  const LIVE_PAGE = 10_000; // the API's largest page of live positions
  const REINDEX_BUDGET_MS = 12; // per frame, for moves inside clusters
  const REINDEX_BATCH = 250;

  const element = document.getElementById("live-map");
  const map = ewallMap.create(element, { preferCanvas: true });
  const renderer = L.canvas({ padding: 0.3 });
  const stats = {
    received: 0, applied: 0, lagSumMs: 0, lagMaxMs: 0, frames: 0, applyMs: 0, reindexed: 0, backlogMax: 0,
    renderedMs: null,
  };

  const people = new Map();
  for (const [id, code, name, officer, category, risk, level, lat, lon, ts, acc] of data.people) {
    people.set(id, {
      id, code, name, officer, category, risk, lat, lon, ts, acc,
      level: level || "normal",
      stale: false,
      shown: false,
      marker: null,
      search: `${name}\u0000${code}`.toLowerCase(),
    });
  }
  const isStale = (p, now) => p.ts !== null && now - p.ts > data.stale_after_ms;

  function style(p) {
    const colour = COLOURS[p.level];
    return p.stale
      ? { color: colour, fillColor: STALE_FILL, fillOpacity: 0.75, opacity: 0.8, weight: 2 }
      : { color: "#fff", fillColor: colour, fillOpacity: 0.95, opacity: 1, weight: 1.5 };
  }

  function makeMarker(p) {
    p.marker = L.circleMarker(ewallMap.toMap(p.lat, p.lon), { renderer, radius: 7, ...style(p) });
    p.marker.personId = p.id;
  }

  // A cluster shows the worst level among its people (stale ones count by their level too).
  function clusterIcon(c) {
    let worst = 0;
    for (const m of c.getAllChildMarkers()) {
      worst = Math.max(worst, RANK[people.get(m.personId).level]);
      if (worst === 2) break;
    }
    const count = c.getChildCount();
    const size = count < 100 ? 34 : count < 1000 ? 42 : 50;
    return L.divIcon({
      html: `<div><span>${count}</span></div>`,
      className: `marker-cluster level-${NAMES[worst]}`,
      iconSize: L.point(size, size),
    });
  }

  let firstLoad = null; // called once the first markers are all in the cluster layer
  const cluster = L.markerClusterGroup({
    chunkedLoading: true,
    chunkInterval: 150,
    chunkProgress: (done, total) => {
      if (done === total && firstLoad) {
        // Called just before markercluster draws the clusters, in the same task: the map is
        // complete once that task is over.
        setTimeout(firstLoad, 0);
        firstLoad = null;
      }
    },
    showCoverageOnHover: false,
    maxClusterRadius: 60,
    iconCreateFunction: clusterIcon,
  });
  map.addLayer(cluster);
  const zoneLayer = L.layerGroup().addTo(map);
  const hoverTip = L.tooltip({ direction: "top", offset: [0, -8] });

  // ---- Counts, ages, descriptions -------------------------------------------------------------

  const count = (id, n) => {
    document.getElementById(id).textContent = n;
  };
  function recount() {
    let red = 0;
    let yellow = 0;
    let stale = 0;
    let shown = 0;
    for (const p of people.values()) {
      red += p.level === "red";
      yellow += p.level === "yellow";
      stale += p.stale;
      shown += p.shown;
    }
    count("red-count", red);
    count("yellow-count", yellow);
    count("stale-count", stale);
    count("shown-count", shown);
  }

  const clock = new Intl.DateTimeFormat("sv-SE", {
    timeZone: data.tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function age(p) {
    if (p.ts === null) return "无位置 no position yet";
    const minutes = Math.max(0, Math.round((Date.now() - p.ts) / 60000));
    const when = clock.format(new Date(p.ts));
    if (minutes < 1) return `${when} · 刚刚 just now`;
    if (minutes < 120) return `${when} · ${minutes} 分钟前 min ago`;
    return `${when} · ${Math.round(minutes / 60)} 小时前 h ago`;
  }
  const levelText = (p) => `${LEVEL_TEXT[p.level]}${p.stale ? " · 位置过时 stale" : ""}`;

  function card(p) {
    const box = document.createElement("div");
    box.className = "person-card";
    const name = document.createElement("b");
    name.textContent = p.name;
    const code = document.createElement("span");
    code.className = "muted";
    code.textContent = ` ${p.code}`;
    const level = document.createElement("div");
    level.textContent = levelText(p);
    const seen = document.createElement("div");
    seen.textContent = age(p);
    box.append(name, code, level, seen);
    return box;
  }

  // ---- Which people are shown: filters --------------------------------------------------------

  const filters = document.getElementById("map-filters");
  function passes(p, f) {
    if (f.officer && String(p.officer) !== f.officer) return false;
    if (f.category && p.category !== f.category) return false;
    if (f.risk && p.risk !== f.risk) return false;
    if (f.level === "stale") return p.stale;
    return !f.level || p.level === f.level;
  }
  function applyFilters() {
    const f = Object.fromEntries(new FormData(filters));
    const markers = [];
    for (const p of people.values()) {
      p.shown = p.marker !== null && passes(p, f);
      if (p.shown) markers.push(p.marker);
    }
    cluster.clearLayers();
    cluster.addLayers(markers);
    recount();
  }
  filters.addEventListener("change", applyFilters);
  filters.addEventListener("submit", (event) => event.preventDefault());

  // ---- Live positions, one frame at a time ----------------------------------------------------

  const pending = new Map(); // person id → [ts, lat, lon, acc]
  let frameAsked = false;
  function enqueue(id, ts, lat, lon, acc) {
    const waiting = pending.get(id);
    if (!waiting || waiting[0] < ts) pending.set(id, [ts, lat, lon, acc]);
    stats.received += 1;
    if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(applyPositions);
    }
  }

  function applyPositions() {
    frameAsked = false;
    const began = performance.now();
    const now = Date.now();
    const moving = [];
    const appearing = [];
    const restyled = [];
    for (const [id, [ts, lat, lon, acc]] of pending) {
      const p = people.get(id);
      if (!p || (p.ts !== null && ts <= p.ts)) continue;
      Object.assign(p, { ts, lat, lon, acc });
      stats.applied += 1;
      stats.lagSumMs += now - ts;
      stats.lagMaxMs = Math.max(stats.lagMaxMs, now - ts);
      const wasStale = p.stale;
      p.stale = isStale(p, now);
      if (p.marker === null) {
        makeMarker(p);
        appearing.push(p);
        continue;
      }
      if (wasStale !== p.stale) {
        p.marker.setStyle(style(p));
        restyled.push(p.marker);
      }
      if (!p.shown) p.marker.setLatLng(ewallMap.toMap(p.lat, p.lon));
      else if (map.hasLayer(p.marker)) moving.push(p);
      else reindex.add(p); // inside a cluster: its place in the cluster index is updated below
    }
    pending.clear();
    stats.frames += 1;
    // Markers drawn on their own move now; a marker is found in the cluster's grid by its old
    // position, so it goes out, moves, and comes back in.
    move(moving);
    const f = Object.fromEntries(new FormData(filters));
    for (const p of appearing) p.shown = passes(p, f);
    cluster.addLayers(appearing.filter((p) => p.shown).map((p) => p.marker));
    if (restyled.length) cluster.refreshClusters(restyled);
    if (selected) showSelected();
    if (appearing.length || restyled.length) recount();
    stats.applyMs += performance.now() - began;
    if (reindex.size) askReindex();
  }

  function move(list) {
    const markers = list.filter((p) => p.shown).map((p) => p.marker);
    cluster.removeLayers(markers);
    for (const p of list) p.marker.setLatLng(ewallMap.toMap(p.lat, p.lon));
    cluster.addLayers(markers);
  }

  // People who moved inside a cluster are re-indexed a few hundred at a time, within a time budget
  // per frame, so that a flood of positions never holds the page up; a person is in the set once,
  // whatever number of fixes came, so the work left is bounded by the caseload.
  const reindex = new Set();
  let reindexAsked = false;
  function askReindex() {
    if (!reindexAsked) {
      reindexAsked = true;
      requestAnimationFrame(reindexSome);
    }
  }
  function reindexSome() {
    reindexAsked = false;
    const began = performance.now();
    stats.backlogMax = Math.max(stats.backlogMax, reindex.size);
    while (reindex.size && performance.now() - began < REINDEX_BUDGET_MS) {
      const batch = [];
      for (const p of reindex) {
        batch.push(p);
        reindex.delete(p);
        if (batch.length === REINDEX_BATCH) break;
      }
      move(batch);
      stats.reindexed += batch.length;
    }
    stats.applyMs += performance.now() - began;
    if (reindex.size) askReindex();
  }

  function markStale() {
    const now = Date.now();
    const changed = [];
    for (const p of people.values()) {
      if (p.marker && isStale(p, now) !== p.stale) {
        p.stale = !p.stale;
        p.marker.setStyle(style(p));
        changed.push(p.marker);
      }
    }
    if (changed.length) {
      cluster.refreshClusters(changed);
      recount();
    }
  }

  const positionsStatus = document.getElementById("positions-status");
  function follow() {
    const source = new EventSource("/api/v1/positions/stream");
    source.addEventListener("ready", async () => {
      positionsStatus.textContent = "● 位置实时 positions live";
      try {
        for (let offset = 0; ; offset += LIVE_PAGE) {
          const found = await ewallApi("GET", `/positions/live?limit=${LIVE_PAGE}&offset=${offset}`);
          for (const q of found) enqueue(q.supervisee_id, Date.parse(q.ts), q.lat, q.lon, q.accuracy_m);
          if (found.length < LIVE_PAGE) break;
        }
      } catch (error) {
        positionsStatus.textContent = `位置读取失败 could not read positions: ${error.message}`;
      }
    });
    source.addEventListener("positions", (event) => {
      const b = JSON.parse(event.data);
      for (let i = 0; i < b.id.length; i += 1) enqueue(b.id[i], b.ts[i], b.lat[i], b.lon[i], b.acc[i]);
    });
    source.addEventListener("error", () => {
      positionsStatus.textContent =
        source.readyState === EventSource.CLOSED ? "位置已断开 positions disconnected" : "位置重连中 reconnecting…";
    });
  }

  // ---- Alert levels ---------------------------------------------------------------------------

  function setLevel(p, level) {
    if (p.level === level) return;
    p.level = level;
    if (p.marker) {
      p.marker.setStyle(style(p));
      if (p.shown) cluster.refreshClusters([p.marker]);
    }
    if (selected === p) showSelected();
    recount();
  }

  // A raise shows at once; the person's worst open alert is then read back, since one alert's end
  // does not say whether another is still open.
  document.addEventListener("ewall:alert", async ({ detail: n }) => {
    const p = people.get(n.supervisee_id);
    if (!p) return;
    if (n.status !== "resolved" && RANK[n.level] > RANK[p.level]) setLevel(p, n.level);
    try {
      const alerts = await ewallApi("GET", `/alerts?supervisee_id=${p.id}&limit=500`);
      const worst = alerts.filter((a) => a.status !== "resolved").reduce((w, a) => Math.max(w, RANK[a.level]), 0);
      setLevel(p, NAMES[worst]);
    } catch (_) {
      // The next notice or a reload corrects it.
    }
  });

  // ---- Selecting a person: their zones, their card --------------------------------------------

  let selected = null;
  const ring = L.circleMarker([0, 0], { renderer, radius: 13, color: "#1f3b5a", weight: 3, fill: false, interactive: false });
  const panel = document.getElementById("selected-person");
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);

  function showSelected() {
    const p = selected;
    field("name").textContent = p.name;
    field("code").textContent = p.code;
    field("level").textContent = levelText(p);
    field("seen").textContent = age(p);
    field("link").href = `/supervisees/${p.id}`;
    panel.hidden = false;
    if (p.marker) ring.setLatLng(p.marker.getLatLng()).addTo(map);
    else ring.remove();
  }

  async function drawZones(p) {
    zoneLayer.clearLayers();
    field("zones").textContent = "读取电子围栏… loading zones";
    try {
      const zones = await ewallApi("GET", `/zones?supervisee_id=${p.id}`);
      if (selected !== p) return;
      for (const z of zones) {
        const colour = z.kind === "exclusion" ? "#d62728" : "#1f77b4";
        const shape = L.geoJSON(ewallMap.geometryToMap(z.geometry), {
          style: { color: colour, weight: 2, fillOpacity: 0.08 },
        });
        const label = document.createElement("span");
        label.textContent = z.name;
        shape.bindTooltip(label, { sticky: true });
        shape.zoneId = z.id;
        zoneLayer.addLayer(shape);
      }
      field("zones").textContent = `电子围栏 ${zones.length} zone(s)`;
      if (zones.length && p.marker === null) map.fitBounds(L.featureGroup(zoneLayer.getLayers()).getBounds());
    } catch (error) {
      field("zones").textContent = `电子围栏读取失败 zones: ${error.message}`;
    }
  }

  function select(p) {
    selected = p;
    showSelected();
    drawZones(p);
    if (p.marker === null) return;
    if (!p.shown) {
      filters.reset();
      applyFilters();
    }
    if (reindex.delete(p)) move([p]);
    // markercluster calls back only for icon markers, not for these circles: the popup opens at once
    // and the cluster is taken apart (zoomed into or spiderfied) meanwhile.
    cluster.zoomToShowLayer(p.marker, () => {});
    L.popup({ offset: [0, -4], autoPan: false }).setLatLng(p.marker.getLatLng()).setContent(card(p)).openOn(map);
  }

  document.getElementById("clear-selection").addEventListener("click", () => {
    selected = null;
    ring.remove();
    zoneLayer.clearLayers();
    panel.hidden = true;
    map.closePopup();
  });

  cluster.on("click", (event) => select(people.get(event.layer.personId)));
  cluster.on("mouseover", (event) => {
    const p = people.get(event.layer.personId);
    if (!p) return;
    hoverTip.setLatLng(event.layer.getLatLng()).setContent(card(p));
    map.openTooltip(hoverTip);
  });
  cluster.on("mouseout", () => map.closeTooltip(hoverTip));

  // ---- Search by name or code ---------------------------------------------------------------

  const results = document.getElementById("search-results");
  document.getElementById("search-text").addEventListener("input", (event) => {
    const wanted = event.target.value.trim().toLowerCase();
    results.replaceChildren();
    if (!wanted) return;
    let found = 0;
    for (const p of people.values()) {
      if (!p.search.includes(wanted)) continue;
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `level-${p.level}`;
      button.dataset.superviseeId = p.id;
      button.textContent = `${p.name} ${p.code} · ${levelText(p)}`;
      button.addEventListener("click", () => select(p));
      item.append(button);
      results.append(item);
      if ((found += 1) === SEARCH_RESULTS) break;
    }
    if (!found) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = "没有匹配 no match";
      results.append(none);
    }
  });
  document.getElementById("person-search").addEventListener("submit", (event) => {
    event.preventDefault();
    results.querySelector("button")?.click();
  });

  // ---- Start ----------------------------------------------------------------------------------

  function loaded() {
    stats.renderedMs = performance.now();
    element.dataset.ready = "true";
    follow();
    setInterval(markStale, STALE_CHECK_MS);
  }

  const now = Date.now();
  const located = [];
  for (const p of people.values()) {
    if (p.ts === null) continue;
    p.stale = isStale(p, now);
    makeMarker(p);
    p.shown = true;
    located.push(p);
  }
  if (located.length) {
    const bounds = L.latLngBounds(located.map((p) => p.marker.getLatLng()));
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15, animate: false });
  }
  recount();
  if (located.length) {
    firstLoad = loaded;
    cluster.addLayers(located.map((p) => p.marker));
  } else {
    loaded();
  }

  // For the tests and the benchmark: the map, what it shows of a person, and its counters.
  window.ewallLiveMap = {
    map,
    stats,
    describe(id) {
      const p = people.get(id);
      return p && { level: p.level, stale: p.stale, shown: p.shown, lat: p.lat, lon: p.lon, ts: p.ts };
    },
    clustered: () => cluster.getLayers().length,
    zones: () => zoneLayer.getLayers().map((l) => l.zoneId),
  };
})();
