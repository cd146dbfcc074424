// The phone page's service worker: it caches the page's shell (HTML, script, styles, icons) so the
// page opens on a poor connection. It never caches the API: what /api/ answers is personal and live.
const SHELL = "ewall-phone-shell-v1";
const SHELL_FILES = [
  "/m/",
  "/static/m/phone.js",
  "/static/m/phone.css",
  "/static/m/icon.svg",
  "/static/m/icon-192.png",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/basemap.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("ewall-phone-") && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// The network first (a fresh shell when there is one), the cached shell when offline. The page's
// address may carry a sign-in code: it is matched without its query, and never stored with it.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!SHELL_FILES.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request).catch(() => caches.match(url.pathname, { ignoreSearch: true })),
  );
});
