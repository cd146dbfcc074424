// The command centre's map: everyone's latest position, coloured by their worst open alert and greyed
// when stale. Drawn as circle markers on one canvas, which stays fast with thousands of people.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("command-data").textContent);
  const COLOURS = ["#2e7d32", "#f0ad00", "#d62728"];
  const LABELS = ["正常 normal", "黄色预警 yellow", "红色报警 red"];
  const map = window.ewallMap.create("command-map");
  const renderer = L.canvas({ padding: 0.5 });
  const bounds = [];
  // Reds drawn last, so they stay on top of the others.
  const points = [...data.points].sort((a, b) => a[2] - b[2]);
  for (const [lat, lon, level, stale, code, name] of points) {
    const at = window.ewallMap.toMap(lat, lon);
    bounds.push(at);
    const colour = stale && level === 0 ? "#9e9e9e" : COLOURS[level];
    const marker = L.circleMarker(at, {
      renderer,
      radius: level ? 7 : 5,
      color: "#fff",
      weight: 1,
      fillColor: colour,
      fillOpacity: stale ? 0.5 : 0.9,
    });
    // An element, not a string: Leaflet would parse a string as HTML, and names are user-supplied.
    const label = document.createElement("span");
    label.textContent = `${name} ${code} · ${LABELS[level]}${stale ? " · 定位过期 stale" : ""}`;
    marker.bindTooltip(label);
    marker.addTo(map);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 });
})();
