// /rollcalls/{id}: one roll call as answers arrive. The list and counts come from the REST API; the
// stream (GET /api/v1/rollcalls/{id}/stream) says when someone answered, so rows, counts and the map
// change without a reload. After every (re)connection ("ready") the page re-reads the list, so an
// answer that came while the stream was down is not missed. Positions are WGS-84: drawn through
// ewallMap.toMap.
"use strict";

(() => {
  const { config, time, label, el, emptyRow, refuse, clear } = window.rollcall;
  const id = config.roll_call_id;
  const LIMIT = 1000;
  const COLOURS = { answered: "#2e7d32", late: "#f0ad00", missed: "#d62728", pending: "#5b6b7c", excused: "#888" };
  const targets = new Map(); // target id -> target (as the API gives it, updated by events)
  const rows = new Map(); // target id -> <tr>
  const tbody = document.querySelector("#targets tbody");
  const map = ewallMap.create("rollcall-map");
  const layer = L.featureGroup().addTo(map);
  const drawn = new Map(); // target id -> layers drawn for it
  let fitted = false;

  function distance(t) {
    if (t.tracker_distance_m === null || t.tracker_distance_m === undefined) return t.answered_at ? "无定位器数据 no tracker fix" : "—";
    const text = `${Math.round(t.tracker_distance_m)} m`;
    return t.separated ? `${text} · 人机分离 apart` : text;
  }

  function fill(tr, t) {
    tr.className = `status-${t.status}${t.separated ? " separated" : ""}`;
    const person = el("a", `${t.person_name} ${t.person_code}`, { href: `/supervisees/${t.supervisee_id}` });
    const status = el("span", label("statuses", t.status), { class: `status status-${t.status}` });
    const cells = [person, status, t.answered_at ? `${time(t.answered_at)} · ${label("via", t.answered_via)}` : "—", distance(t)];
    const verification = t.verification === "queued" ? el("a", label("verifications", t.verification), { href: "/rollcalls/verify" }) : label("verifications", t.verification);
    cells.push(verification);
    const actions = el("td");
    if (config.can_act && (t.status === "pending" || t.status === "missed")) {
      const excuse = el("button", "免答 Excuse", { type: "button", class: "small excuse", "data-target-id": String(t.id) });
      actions.append(excuse);
    } else if (t.excused_reason) {
      actions.append(el("span", t.excused_reason, { class: "muted" }));
    }
    tr.replaceChildren(
      ...cells.map((cell) => {
        const td = el("td");
        if (cell instanceof Node) td.append(cell);
        else td.textContent = cell;
        return td;
      }),
      actions,
    );
  }

  function draw(t) {
    (drawn.get(t.id) || []).forEach((shape) => layer.removeLayer(shape));
    drawn.delete(t.id);
    if (t.lat === null || t.lat === undefined) return;
    const colour = t.separated ? "#d62728" : COLOURS[t.status] || "#1f3b5a";
    const answer = ewallMap.toMap(t.lat, t.lon);
    const shapes = [L.circleMarker(answer, { radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.95 })];
    shapes[0].bindTooltip(`${t.person_name || ""} ${t.person_code || ""} · ${label("statuses", t.status)} · ${distance(t)}`);
    if (t.tracker_lat !== null && t.tracker_lat !== undefined) {
      const tracker = ewallMap.toMap(t.tracker_lat, t.tracker_lon);
      shapes.push(L.circleMarker(tracker, { radius: 5, color: "#1f3b5a", weight: 2, fillOpacity: 0, dashArray: "2 2" }));
      if (t.separated) shapes.push(L.polyline([answer, tracker], { color: "#d62728", weight: 2, dashArray: "6 4" }));
    }
    shapes.forEach((shape) => layer.addLayer(shape));
    drawn.set(t.id, shapes);
  }

  function show(t, fresh) {
    targets.set(t.id, t);
    let tr = rows.get(t.id);
    if (!tr) {
      tr = el("tr", null, { "data-target-id": String(t.id) });
      rows.set(t.id, tr);
      tbody.append(tr);
    }
    fill(tr, t);
    if (fresh) {
      tr.classList.add("fresh");
    }
    draw(t);
  }

  async function loadTargets() {
    const status = document.getElementById("status-filter").value;
    const query = `limit=${LIMIT}${status ? `&status=${status}` : ""}`;
    const problem = document.getElementById("targets-error");
    try {
      const list = await ewallApi("GET", `/rollcalls/${id}/targets?${query}`);
      problem.hidden = true;
      targets.clear();
      rows.clear();
      tbody.replaceChildren();
      list.forEach((t) => show(t, false));
      if (!list.length) tbody.append(emptyRow(6, "没有人员 No one."));
      document.getElementById("targets-shown").textContent = list.length >= LIMIT ? `（前 ${LIMIT} 人 the first ${LIMIT}）` : `（${list.length}）`;
      if (!fitted && layer.getLayers().length) {
        map.fitBounds(layer.getBounds().pad(0.3), { maxZoom: 15 });
        fitted = true;
      }
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  }

  let countsDue = null;
  // Counts are re-read at most once a second however fast answers come.
  function refreshCounts() {
    if (countsDue) return;
    countsDue = setTimeout(async () => {
      countsDue = null;
      const call = await ewallApi("GET", `/rollcalls/${id}`);
      for (const [status, n] of Object.entries(call.counts)) {
        const cell = document.querySelector(`[data-count="${status}"]`);
        if (cell) cell.textContent = String(n);
      }
      document.getElementById("state").textContent = label("call_statuses", call.status);
    }, 1000);
  }

  function answered(event) {
    const data = JSON.parse(event.data);
    const known = targets.get(data.target_id);
    refreshCounts();
    if (!known) return; // not in the rows shown (a filter, or beyond the first LIMIT)
    const t = { ...known, status: data.status, answered_at: data.answered_at, answered_via: data.via, lat: data.lat, lon: data.lon };
    for (const name of ["accuracy_m", "tracker_distance_m", "separated", "tracker_lat", "tracker_lon", "verification"]) {
      if (data[name] !== undefined) t[name] = data[name];
    }
    if (data.via === "phone" && known.verification === "not_needed") t.verification = "queued";
    show(t, true);
  }

  function outcome(event) {
    const data = JSON.parse(event.data);
    const known = targets.get(data.target_id);
    refreshCounts();
    if (!known) return;
    if (data.rule === "rollcall_missed") show({ ...known, status: "missed" }, true);
    if (data.rule !== "identity_check_failed") return;
    // Phone and tracker apart: the evidence says where the tracker was, for the line on the map. A
    // rejected photo carries no position: its row is re-read for the verification.
    const tracker = (data.evidence || {}).tracker;
    if (tracker && tracker.lat !== null && tracker.lat !== undefined) {
      show({ ...known, tracker_lat: tracker.lat, tracker_lon: tracker.lon, separated: true }, true);
    } else {
      ewallApi("GET", `/rollcalls/${id}/targets?limit=${LIMIT}`)
        .then((list) => list.filter((t) => t.id === known.id).forEach((t) => show({ ...known, ...t }, true)))
        .catch(() => {}); // the next "ready" re-reads every row
    }
  }

  function connect() {
    const status = document.getElementById("live-status");
    const stream = new EventSource(`/api/v1/rollcalls/${id}/stream`);
    stream.addEventListener("ready", () => {
      status.dataset.state = "live";
      status.textContent = "实时 live";
      loadTargets();
      refreshCounts();
    });
    stream.addEventListener("answered", answered);
    stream.addEventListener("outcome", outcome);
    stream.addEventListener("closed", () => refreshCounts());
    stream.addEventListener("cancelled", () => {
      // Whoever had not answered is excused now: every row may have changed.
      loadTargets();
      refreshCounts();
      const cancel = document.getElementById("cancel-rollcall");
      if (cancel) cancel.hidden = true;
    });
    stream.addEventListener("error", () => {
      status.dataset.state = "closed";
      status.textContent = "重连中 reconnecting";
    });
  }

  function tick() {
    const clock = document.getElementById("countdown");
    const left = new Date(clock.dataset.deadline) - Date.now();
    if (left <= 0) {
      const closes = new Date(clock.dataset.closes) - Date.now();
      clock.textContent = closes > 0 ? `已过截止，${Math.ceil(closes / 60000)} 分钟后关闭 past the deadline; closes in ${Math.ceil(closes / 60000)} min` : "已关闭 closed";
      return;
    }
    const s = Math.floor(left / 1000);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    clock.textContent = hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  }
  tick();
  setInterval(tick, 1000);

  document.getElementById("status-filter").addEventListener("change", loadTargets);
  connect();

  const cancel = document.getElementById("cancel-rollcall");
  if (cancel) {
    cancel.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(cancel);
      try {
        await ewallApi("POST", `/rollcalls/${id}/cancel`);
        window.location.reload();
      } catch (error) {
        refuse(cancel, error);
      }
    });
  }

  const dialog = document.getElementById("excuse-dialog");
  if (!dialog) return;
  const excuseForm = document.getElementById("excuse-form");
  let excusing = null;
  tbody.addEventListener("click", (event) => {
    const button = event.target.closest("button.excuse");
    if (!button) return;
    excusing = targets.get(Number(button.dataset.targetId));
    clear(excuseForm);
    excuseForm.reset();
    document.getElementById("excuse-who").textContent = `${excusing.person_name} ${excusing.person_code}`;
    dialog.showModal();
  });
  document.getElementById("excuse-close").addEventListener("click", () => dialog.close());
  excuseForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(excuseForm);
    try {
      const t = await ewallApi("POST", `/rollcall-targets/${excusing.id}/excuse`, { reason: excuseForm.elements.reason.value });
      show(t, true);
      refreshCounts();
      dialog.close();
    } catch (error) {
      refuse(excuseForm, error);
    }
  });
})();
