// The alert pages. On the queue (/alerts): follows /api/v1/events/stream and, on any change the
// viewer may see, reloads the queue's rows as the server sorts and filters them (htmx); a red alert plays
// a tone (WebAudio, no asset) and shows a desktop notification once the officer allowed them with
// a click. On an alert's page (/alerts/{id}): its evidence fixes and zone on a small map, its
// timeline from the API, and the action forms, which call the alerts API (its checks apply).
"use strict";
(() => {
  const RAISING = new Set(["opened", "level_raised", "escalated"]);

  // ---- the queue ----
  function queuePage(config) {
    const status = document.getElementById("live-status");
    const toasts = document.getElementById("toasts");
    const notifyButton = document.getElementById("enable-notify");
    let audio = null;
    let pending = null;
    const seen = new Set([...document.querySelectorAll("#alert-queue tr[data-alert-id]")].map((r) => r.dataset.alertId));

    notifyButton.addEventListener("click", async () => {
      // Browsers allow sound and the permission prompt only after a user's gesture: this one.
      audio = audio || new AudioContext();
      await audio.resume();
      if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
      notifyButton.textContent = "声音和通知已开启 Sound & notifications on";
      notifyButton.setAttribute("aria-pressed", "true");
      document.body.dataset.notify = "on";
    });

    function beep() {
      if (!audio) return;
      const now = audio.currentTime;
      for (const [start, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.2, now + start);
        gain.gain.exponentialRampToValueAtTime(0.001, now + start + 0.22);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + start);
        osc.stop(now + start + 0.23);
      }
    }

    function toast(n) {
      const box = document.createElement("div");
      box.className = "toast red";
      box.setAttribute("role", "alert");
      const link = document.createElement("a");
      link.href = `/alerts/${n.alert_id}`;
      link.textContent = `红色报警 Red alert: ${n.supervisee_name} ${n.supervisee_code} · ${n.rule}`;
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "关闭 Dismiss";
      close.addEventListener("click", () => box.remove());
      box.append(link, close);
      toasts.append(box);
      setTimeout(() => box.remove(), 60000);
    }

    function alarm(n) {
      toast(n);
      beep();
      if ("Notification" in window && Notification.permission === "granted") {
        const note = new Notification("红色报警 Red alert", { body: `${n.supervisee_name} ${n.supervisee_code} · ${n.rule}`, tag: `alert-${n.alert_id}` });
        note.addEventListener("click", () => { window.focus(); location.href = `/alerts/${n.alert_id}`; });
      }
    }

    // The server decides order, filters and paging: htmx fetches this very page again and swaps its
    // rows, and the total out of band (hx-swap-oob in the page).
    function refresh() {
      pending = null;
      htmx.ajax("GET", location.href, { target: "#queue-body", select: "#queue-body", swap: "outerHTML" });
    }

    document.body.addEventListener("htmx:afterSettle", () => {
      for (const row of document.querySelectorAll("#alert-queue tr[data-alert-id]")) {
        if (!seen.has(row.dataset.alertId)) row.classList.add("fresh");
        seen.add(row.dataset.alertId);
      }
    });

    function changed(n) {
      if (n.level === "red" && n.status === "open" && RAISING.has(n.kind)) alarm(n);
      // Bursts of changes (a watchdog round) become one reload.
      if (!pending) pending = setTimeout(refresh, 300);
    }

    const source = new EventSource(`/api/v1/events/stream?since=${encodeURIComponent(config.since)}`);
    source.addEventListener("ready", () => { status.dataset.state = "live"; status.textContent = "● 实时 Live"; });
    source.addEventListener("alert", (event) => changed(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      const closed = source.readyState === EventSource.CLOSED;
      status.dataset.state = closed ? "closed" : "reconnecting";
      status.textContent = closed ? "已断开，请刷新 Disconnected: reload the page" : "重新连接中 Reconnecting…";
    });
  }

  // ---- one alert ----
  const alertConfig = document.getElementById("alert-config");
  const queueConfig = document.getElementById("queue-config");
  const clock = new Intl.DateTimeFormat("sv-SE", {
    timeZone: alertConfig ? JSON.parse(alertConfig.textContent).tz : undefined, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const local = (iso) => (iso ? clock.format(new Date(iso)) : "");
  const KINDS = {
    opened: "报警开始 opened", level_raised: "升级为红色 raised to red", ended: "人员返回 person back",
    acknowledged: "已确认 acknowledged", escalated: "已上报 escalated", resolved: "已处置 resolved",
  };

  async function drawMap(config) {
    const box = document.getElementById("alert-map");
    const map = ewallMap.create(box);
    const layers = [];
    if (config.zone_id) {
      try {
        const zone = await ewallApi("GET", `/zones/${config.zone_id}`);
        layers.push(L.geoJSON(ewallMap.geometryToMap(zone.geometry), { style: { color: "#1f77b4", weight: 2, fillOpacity: 0.08 } }).addTo(map));
      } catch (error) {
        document.getElementById("map-note").textContent += ` · 围栏不可见 zone not shown (${error.message})`;
      }
    }
    for (const fix of config.fixes) {
      const at = ewallMap.toMap(fix.lat, fix.lon);
      const marker = L.circleMarker(at, { radius: 6, color: "#d62728", fillOpacity: 0.8 }).addTo(map);
      marker.bindTooltip(`${local(fix.ts)} ±${Math.round(fix.accuracy_m || 0)} m`);
      if (fix.accuracy_m) layers.push(L.circle(at, { radius: fix.accuracy_m, color: "#d62728", weight: 1, fillOpacity: 0.1 }).addTo(map));
      layers.push(marker);
    }
    const bounds = L.featureGroup(layers).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.3), { maxZoom: 16 });
    box.dataset.ready = String(layers.length);
  }

  async function drawTimeline(alertId) {
    const list = document.getElementById("alert-timeline");
    try {
      const events = await ewallApi("GET", `/alerts/${alertId}/events`);
      list.replaceChildren(...events.map((e) => {
        const item = document.createElement("li");
        item.dataset.kind = e.kind;
        const when = document.createElement("time");
        when.dateTime = e.at;
        when.textContent = local(e.at);
        const what = document.createElement("b");
        what.textContent = ` ${KINDS[e.kind] || e.kind} `;
        const who = document.createElement("span");
        who.className = "muted";
        const d = e.detail || {};
        const extra = [e.actor, d.disposition, d.note, d.evidence && d.evidence.reason, d.reopened ? "已处置后重开 reopened" : ""];
        who.textContent = extra.filter(Boolean).join(" · ");
        item.append(when, what, who);
        return item;
      }));
    } catch (error) {
      list.replaceChildren(Object.assign(document.createElement("li"), { className: "error", textContent: error.message }));
    }
  }

  function fieldErrors(form, error) {
    const box = form.querySelector(".form-error");
    const detail = error.detail;
    box.textContent = Array.isArray(detail)
      ? detail.map((d) => `${d.field.split(".").pop()}: ${d.reason}`).join("; ")
      : error.message;
    box.hidden = false;
  }

  function requestFor(action, form, alertId, personId, tzOffset) {
    const data = new FormData(form);
    const note = (data.get("note") || "").trim() || null;
    if (action === "ack") return ["POST", `/alerts/${alertId}/ack`, { note }];
    if (action === "escalate") return ["POST", `/alerts/${alertId}/escalate`, { note }];
    if (action === "resolve") {
      if (!data.get("disposition")) throw new Error("请选择处置结果 Choose a disposition.");
      return ["POST", `/alerts/${alertId}/resolve`, { disposition: data.get("disposition"), note }];
    }
    const reason = (data.get("reason") || "").trim();
    const until = data.get("until");
    if (!reason) throw new Error("请填写原因 Give a reason.");
    if (!until) throw new Error("请填写截止时间 Give the time the suspension ends.");
    // The field is in the display time zone (Beijing time); the API wants an aware time.
    return ["POST", `/supervisees/${personId}/alert-suspensions`, { reason, until: `${until}:00${tzOffset}` }];
  }

  function alertPage(config) {
    const page = document.getElementById("alert-detail");
    const { alertId, superviseeId } = page.dataset;
    drawMap(config);
    drawTimeline(alertId);
    // Someone else's change to this alert (another officer, the watchdog): its timeline follows,
    // and a link offers the page as it now is (the forms depend on the new state).
    const stream = new EventSource(`/api/v1/events/stream?since=${encodeURIComponent(config.since)}`);
    stream.addEventListener("alert", (event) => {
      if (String(JSON.parse(event.data).alert_id) !== alertId) return;
      drawTimeline(alertId);
      document.getElementById("alert-changed").hidden = false;
    });
    for (const form of document.querySelectorAll("form.alert-action")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const box = form.querySelector(".form-error");
        box.hidden = true;
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          const [method, path, body] = requestFor(form.dataset.action, form, alertId, superviseeId, config.tz_offset);
          await ewallApi(method, path, body);
          if (form.dataset.action === "suspend") {
            const done = document.getElementById("action-done");
            done.textContent = `已暂停该人员的报警至 ${body.until.slice(0, 16).replace("T", " ")} Alerts suspended until then.`;
            done.hidden = false;
            form.reset();
          } else {
            location.reload();
          }
        } catch (error) {
          fieldErrors(form, error);
        } finally {
          button.disabled = false;
        }
      });
    }
  }

  if (queueConfig) queuePage(JSON.parse(queueConfig.textContent));
  if (alertConfig) alertPage(JSON.parse(alertConfig.textContent));
})();
