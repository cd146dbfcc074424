// Trajectory replay (track_replay.html): the range picker sends Asia/Shanghai inputs as UTC; the
// track, thinned on the server, is drawn as pieces coloured by speed or source with gaps dashed; the
// slider and the play button move a marker over every fix (the slider is exact, not thinned).
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("replay-config").textContent);
  const tz = config.tz;

  // Wall-clock parts of an instant in the display time zone.
  const partsFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  function wallClock(ms) {
    const p = Object.fromEntries(partsFormat.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return p;
  }
  function localText(seconds) {
    const p = wallClock(seconds * 1000);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  // A datetime-local value read in the display time zone → a UTC ISO string.
  function toUtc(value) {
    const [date, time] = value.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const wanted = Date.UTC(y, mo - 1, d, h, mi);
    let guess = wanted;
    for (let i = 0; i < 2; i += 1) {
      const p = wallClock(guess);
      const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
      guess += wanted - shown;
    }
    return new Date(guess).toISOString();
  }

  const form = document.getElementById("replay-range");
  form.addEventListener("submit", () => {
    document.getElementById("replay-from-utc").value = toUtc(document.getElementById("replay-from").value);
    document.getElementById("replay-to-utc").value = toUtc(document.getElementById("replay-to").value);
  });

  const map = ewallMap.create("replay-map");
  const dataElement = document.getElementById("track-data");
  if (!dataElement) return;
  const data = JSON.parse(dataElement.textContent);
  const n = data.t.length;
  if (!n) return;

  const COLOURS = {
    speed: ["#7f7f7f", "#2ca02c", "#1f77b4", "#ff7f0e", "#d62728"],
    source: ["#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf"],
  };
  const LABELS = { speed: data.speed_labels, source: data.source_labels };
  const onMap = data.lat.map((lat, i) => ewallMap.toMap(lat, data.lon[i]));
  const line = L.featureGroup().addTo(map);
  const legend = document.getElementById("replay-legend");

  function draw(mode) {
    line.clearLayers();
    for (const piece of data.pieces[mode]) {
      const points = piece.i.map((i) => onMap[i]);
      const style = piece.gap
        ? { color: "#444", weight: 3, dashArray: "6 8", className: "replay-gap" }
        : { color: COLOURS[mode][piece.c], weight: 4, className: `replay-run replay-${mode}-${piece.c}` };
      L.polyline(points, style).addTo(line);
    }
    legend.replaceChildren();
    const used = new Set(data.pieces[mode].filter((p) => !p.gap).map((p) => p.c));
    LABELS[mode].forEach((label, c) => {
      if (!used.has(c)) return;
      const item = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.className = "swatch";
      swatch.style.background = COLOURS[mode][c];
      item.append(swatch, label);
      legend.append(item);
    });
    if (data.gaps) {
      const item = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.className = "swatch gap";
      item.append(swatch, `中断 gap > ${data.gap_min} min`);
      legend.append(item);
    }
  }
  for (const radio of document.querySelectorAll("input[name=colour]")) {
    radio.addEventListener("change", () => draw(radio.value));
  }
  draw("speed");
  L.circleMarker(onMap[0], { radius: 6, color: "#2ca02c", fillOpacity: 0.9, className: "replay-start" })
    .bindTooltip(`起点 start ${localText(data.t[0])}`).addTo(map);
  L.circleMarker(onMap[n - 1], { radius: 6, color: "#d62728", fillOpacity: 0.9, className: "replay-end" })
    .bindTooltip(`终点 end ${localText(data.t[n - 1])}`).addTo(map);
  map.fitBounds(line.getBounds().extend(onMap[0]), { padding: [30, 30], maxZoom: 17, animate: false });

  function describe(i) {
    const acc = data.acc[i] === null ? "?" : data.acc[i];
    const kmh = (data.speed[i] * 3.6).toFixed(1);
    return `${localText(data.t[i])} · ${kmh} km/h · 精度 accuracy ±${acc} m · ${data.source_labels[data.source[i]]}`;
  }

  // Hovering the line shows the nearest fix with its accuracy circle.
  const accuracy = L.circle(onMap[0], { radius: 0, weight: 1, color: "#1f77b4", fillOpacity: 0.1, interactive: false });
  const hover = L.tooltip({ direction: "top", offset: [0, -6], className: "replay-hover" });
  function nearest(latlng) {
    let best = 0;
    let bestD = Infinity;
    const cos = Math.cos((latlng.lat * Math.PI) / 180);
    for (let i = 0; i < n; i += 1) {
      const dy = onMap[i][0] - latlng.lat;
      const dx = (onMap[i][1] - latlng.lng) * cos;
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }
  line.on("mousemove", (event) => {
    const i = nearest(event.latlng);
    accuracy.setLatLng(onMap[i]).setRadius(data.acc[i] || 0).addTo(map);
    const text = document.createElement("span");
    text.textContent = describe(i); // Leaflet would read a string as HTML
    hover.setLatLng(onMap[i]).setContent(text);
    map.openTooltip(hover);
  });
  line.on("mouseout", () => {
    map.closeTooltip(hover);
    accuracy.remove();
  });

  // The replay marker: at the last fix at or before the slider's time (every fix, not the thinned line).
  const slider = document.getElementById("replay-slider");
  const timeOut = document.getElementById("replay-time");
  const fixOut = document.getElementById("replay-fix");
  const marker = L.circleMarker(onMap[0], { radius: 9, color: "#000", weight: 2, fillColor: "#ffd700", fillOpacity: 1, className: "replay-marker" }).addTo(map);
  const markerAccuracy = L.circle(onMap[0], { radius: 0, weight: 1, color: "#000", fillOpacity: 0.08, interactive: false }).addTo(map);
  function fixAt(seconds) {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (data.t[mid] <= seconds) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  function show(seconds) {
    const i = fixAt(seconds);
    marker.setLatLng(onMap[i]);
    markerAccuracy.setLatLng(onMap[i]).setRadius(data.acc[i] || 0);
    timeOut.textContent = localText(seconds);
    fixOut.textContent = `定位 fix ${i + 1}/${n}: ${describe(i)}`;
    slider.setAttribute("aria-valuetext", localText(seconds));
    return i;
  }
  slider.addEventListener("input", () => show(Number(slider.value)));

  // Play: the slider's time runs at the chosen multiple of real time; a gap is skipped to its end.
  const play = document.getElementById("replay-play");
  const speedSelect = document.getElementById("replay-speed");
  let playing = false;
  let now = Number(slider.value);
  let last = 0;
  function setPlaying(on) {
    playing = on;
    play.setAttribute("aria-pressed", String(on));
    play.textContent = on ? "⏸ 暂停 Pause" : "▶ 播放 Play";
  }
  function frame(stamp) {
    if (!playing) return;
    if (last) now += ((stamp - last) / 1000) * Number(speedSelect.value);
    last = stamp;
    const i = fixAt(now);
    if (i < n - 1 && data.t[i + 1] - data.t[i] > data.gap_min * 60 && now > data.t[i] + 1) now = data.t[i + 1];
    if (now >= data.t[n - 1]) {
      now = data.t[n - 1];
      setPlaying(false);
    }
    slider.value = String(Math.floor(now));
    show(now);
    if (playing) requestAnimationFrame(frame);
  }
  play.addEventListener("click", () => {
    if (playing) {
      setPlaying(false);
      return;
    }
    now = Number(slider.value) >= data.t[n - 1] ? data.t[0] : Number(slider.value);
    last = 0;
    setPlaying(true);
    requestAnimationFrame(frame);
  });
  show(data.t[0]);
})();
