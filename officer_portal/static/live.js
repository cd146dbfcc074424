// The open-alert list beside the live map: follows /api/v1/events/stream (server-sent events) and
// updates the list and, for red alerts, raises a toast, without reloading the page. EventSource
// reconnects by itself and sends the last event's id back; the server then re-sends what changed
// meanwhile. Each notice is passed on as an "ewall:alert" event, which the map (map.js) recolours by.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("live-config").textContent);
  const table = document.getElementById("open-alerts");
  const rows = table.tBodies[0];
  const blankRow = document.getElementById("alert-row").content.firstElementChild;
  const status = document.getElementById("live-status");
  const toasts = document.getElementById("toasts");
  const clock = new Intl.DateTimeFormat("sv-SE", {
    timeZone: config.tz,
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  // Same format as the server's rows: 2026-05-01 08:30:00 in the display time zone.
  const local = (iso) => (iso ? clock.format(new Date(iso)) : "");
  const RAISING = new Set(["opened", "level_raised", "escalated"]);

  function fill(row, n) {
    const field = (name) => row.querySelector(`[data-field="${name}"]`);
    row.className = `level-${n.level}`;
    row.dataset.alertId = n.alert_id;
    row.dataset.superviseeId = n.supervisee_id ?? "";
    row.dataset.started = n.started_at;
    field("level").className = `badge ${n.level}`;
    field("level").textContent = config.levels[n.level] || n.level;
    field("level").href = `/alerts/${n.alert_id}`;
    if (n.supervisee_id !== null) field("person").href = `/supervisees/${n.supervisee_id}`;
    else field("person").removeAttribute("href");
    field("name").textContent = n.supervisee_name;
    field("code").textContent = n.supervisee_code;
    field("rule").textContent = n.rule;
    field("started").textContent = local(n.started_at);
    field("ended").textContent = local(n.ended_at);
    row.querySelector(".back").hidden = !n.ended_at;
    field("status").textContent = n.status;
  }

  // Red first, then newest first, as the server orders them.
  const rank = (r) => [r.classList.contains("level-red") ? 0 : 1, -Date.parse(r.dataset.started)];
  function place(row) {
    const [red, started] = rank(row);
    const after = [...rows.rows].find((r) => {
      const [otherRed, otherStarted] = rank(r);
      return r !== row && (otherRed > red || (otherRed === red && otherStarted > started));
    });
    rows.insertBefore(row, after || null);
  }

  function toast(n) {
    const box = document.createElement("div");
    box.className = "toast red";
    box.setAttribute("role", "alert");
    box.dataset.alertId = n.alert_id;
    const text = document.createElement("span");
    text.textContent = `红色报警 Red alert: ${n.supervisee_name} (${n.supervisee_code}) · ${n.rule}`;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.textContent = "知道了 OK";
    dismiss.addEventListener("click", () => box.remove());
    box.append(text, dismiss);
    toasts.prepend(box);
  }

  function recount() {
    table.hidden = rows.rows.length === 0;
    document.getElementById("no-alerts").hidden = rows.rows.length > 0;
  }

  function apply(n) {
    let row = rows.querySelector(`tr[data-alert-id="${n.alert_id}"]`);
    const isNew = !row;
    if (n.status === "resolved") {
      if (row) row.remove();
    } else {
      row = row || blankRow.cloneNode(true);
      const wasRed = row.classList.contains("level-red");
      fill(row, n);
      if (isNew || wasRed !== (n.level === "red")) place(row);
      if (isNew) row.classList.add("fresh");
      // A catch-up after a reconnect re-sends alerts already shown: only a new one deserves a toast.
      if (n.level === "red" && n.status === "open" && (RAISING.has(n.kind) || (n.kind === "sync" && isNew))) {
        toast(n);
      }
    }
    recount();
    document.dispatchEvent(new CustomEvent("ewall:alert", { detail: n }));
  }

  function show(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  const source = new EventSource(`/api/v1/events/stream?since=${encodeURIComponent(config.since)}`);
  source.addEventListener("ready", () => show("live", "● 实时 Live"));
  source.addEventListener("alert", (event) => apply(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      show("closed", "已断开，请刷新或重新登录 Disconnected: reload the page or sign in again");
    } else {
      show("reconnecting", "重新连接中 Reconnecting…");
    }
  });
})();
