// Every Leaflet map in the portal starts here: the configured tiles (OSM, 天地图, or a GCJ-02 source
// such as Amap) from the page's #map-config, and the datum shift. Positions from the API are WGS-84;
// on GCJ-02 tiles each is shifted by GCJ-02's offset before it is drawn (toMap), and a shape drawn on
// such tiles is shifted back before it is sent (fromMap). The formulas are core/datum.py's.
"use strict";
window.ewallMap = (() => {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const gcj = config.datum === "gcj02";
  const A = 6378245.0;
  const EE = 0.00669342162296594323;

  function inChina(lat, lon) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }

  // GCJ-02 minus WGS-84 at a WGS-84 position, in degrees: [dLat, dLon].
  function offset(lat, lon) {
    const x = lon - 105.0;
    const y = lat - 35.0;
    const s = Math.sqrt(Math.abs(x));
    const wave = (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s + wave;
    dLat += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    dLat += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s + wave;
    dLon += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    dLon += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    const rad = (lat / 180.0) * Math.PI;
    let magic = Math.sin(rad);
    magic = 1 - EE * magic * magic;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
    dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(rad) * Math.PI);
    return [dLat, dLon];
  }

  // WGS-84 [lat, lon] → the tiles' datum.
  function toMap(lat, lon) {
    if (!gcj || !inChina(lat, lon)) return [lat, lon];
    const [dLat, dLon] = offset(lat, lon);
    return [lat + dLat, lon + dLon];
  }

  // The tiles' datum → WGS-84, by fixed-point iteration (as core/datum.py: well under a millimetre).
  function fromMap(lat, lon) {
    if (!gcj || !inChina(lat, lon)) return [lat, lon];
    let [wLat, wLon] = [lat, lon];
    for (let i = 0; i < 10; i += 1) {
      const [mLat, mLon] = toMap(wLat, wLon);
      const [eLat, eLon] = [mLat - lat, mLon - lon];
      wLat -= eLat;
      wLon -= eLon;
      if (Math.abs(eLat) < 1e-9 && Math.abs(eLon) < 1e-9) break;
    }
    return [wLat, wLon];
  }

  // A GeoJSON geometry (WGS-84, [lon, lat] pairs) in the tiles' datum, for L.geoJSON.
  function geometryToMap(geometry) {
    if (!gcj) return geometry;
    const shift = (c) => (typeof c[0] === "number" ? [...toMap(c[1], c[0]).reverse(), ...c.slice(2)] : c.map(shift));
    return { ...geometry, coordinates: shift(geometry.coordinates) };
  }

  function geometryFromMap(geometry) {
    if (!gcj) return geometry;
    const shift = (c) => (typeof c[0] === "number" ? [...fromMap(c[1], c[0]).reverse(), ...c.slice(2)] : c.map(shift));
    return { ...geometry, coordinates: shift(geometry.coordinates) };
  }

  // A Leaflet map on the element (or its id) with the configured tiles, centred on the default.
  function create(element, options = {}) {
    const map = L.map(element, { zoomControl: true, maxZoom: config.max_zoom, ...options });
    const tiles = { subdomains: config.subdomains, maxZoom: config.max_zoom, attribution: config.attribution };
    L.tileLayer(config.tiles, tiles).addTo(map);
    if (config.labels) L.tileLayer(config.labels, { ...tiles, attribution: "" }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.setView(toMap(...config.centre), 12);
    return map;
  }

  return { config, create, toMap, fromMap, geometryToMap, geometryFromMap };
})();
