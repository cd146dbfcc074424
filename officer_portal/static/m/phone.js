// The supervisee's phone page (/m/): sign-in with the link's code, then the home read from
// /api/v1/phone/home and re-read whenever the roll-call stream says so. Every change goes to the
// phone API; the session is the HttpOnly ewall_phone cookie. User data goes in with textContent only.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("phone-config").textContent);
  const $ = (id) => document.getElementById(id);
  const PHOTO_MAX_PX = 640;
  const MODE_LABELS = { phone: "手机点名 Phone", camera: "到摄像头点名 Camera", office: "报到 Office" };
  const DECISIONS = { requested: "待审批 Waiting", approved: "已批准 Approved", refused: "未批准 Refused" };
  const ANSWER_WORDS = {
    answered: "已按时应答，谢谢。Answered on time, thank you.",
    late: "已应答，但超过了时限。Answered, but after the deadline.",
    missed: "已记录，但点名已结束。Recorded, but the roll call had already closed.",
  };
  const when = new Intl.DateTimeFormat("zh-CN", {
    timeZone: config.display_tz,
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  const day = new Intl.DateTimeFormat("zh-CN", { timeZone: config.display_tz, year: "numeric", month: "long", day: "numeric", weekday: "short" });
  let home = null;
  let stream = null;
  let positionTimer = null;
  let countdownTimer = null;
  let answering = null; // the target being answered while the camera is open

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : (detail || []).map((e) => `${e.field}: ${e.reason}`).join("; "));
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const response = await fetch(`/api/v1/phone${path}`, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && path !== "/sign-in") {
      signedOut(home ? "登录已失效，请重新登录。Your session has ended: sign in again." : "");
      throw new ApiError(401, "signed out");
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : `HTTP ${response.status}`);
    return data;
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  function showError(form, error) {
    const line = form.querySelector(".error");
    line.textContent = error ? `${error.message}` : "";
    line.hidden = !error;
  }

  function item(...children) {
    const li = document.createElement("li");
    li.append(...children);
    return li;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function button(text, className, onClick) {
    const node = el("button", text, className);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  // A button's action: the call, then the home re-read; a refusal is said in the notice line (a
  // session that ended has already sent the page back to sign-in, with its own words).
  async function act(control, method, path) {
    control.disabled = true;
    try {
      await api(method, path);
    } catch (error) {
      control.disabled = false;
      if (error.status !== 401) notice(error.message);
      return;
    }
    await refresh();
  }

  function fill(listId, emptyId, entries) {
    $(listId).replaceChildren(...entries);
    $(emptyId).hidden = entries.length > 0;
  }

  // Sign-in ----------------------------------------------------------------------------------------

  function signedOut(text) {
    home = null;
    if (stream) stream.close();
    stream = null;
    clearInterval(positionTimer);
    positionTimer = null;
    $("home").hidden = true;
    $("sign-in").hidden = false;
    $("who").textContent = "";
    notice(text || "");
  }

  async function signIn(code) {
    const form = $("sign-in-form");
    showError(form, null);
    try {
      await api("POST", "/sign-in", { code });
    } catch (error) {
      $("sign-in").hidden = false;
      showError(form, error);
      return;
    }
    notice("");
    await start();
  }

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("code").value.trim();
    if (!code) {
      showError(event.target, new Error("请输入登录码 Type the sign-in code"));
      return;
    }
    signIn(code);
  });

  $("sign-out").addEventListener("click", async () => {
    await api("POST", "/sign-out").catch(() => null);
    signedOut("已退出 Signed out.");
  });

  // Home -------------------------------------------------------------------------------------------

  async function refresh() {
    try {
      home = await api("GET", "/home");
    } catch (error) {
      if (error.status !== 401) notice(`无法读取 Could not load: ${error.message}`);
      return;
    }
    render();
  }

  function render() {
    $("sign-in").hidden = true;
    $("home").hidden = false;
    $("who").textContent = `${home.supervisee.name} · ${home.supervisee.code}`;
    const status = home.status;
    $("status").dataset.inArea = status.in_area === null ? "unknown" : String(status.in_area);
    $("status-words").textContent = status.words;
    renderRollCalls();
    fill(
      "office-list",
      "no-office",
      home.office_dates.map((o) => item(el("strong", day.format(new Date(`${o.office_date}T12:00:00+08:00`))), el("p", o.message || "请到司法所报到 Report at the judicial office", "muted"))),
    );
    fill("message-list", "no-messages", home.messages.map(messageItem));
    $("leave-list").replaceChildren(...home.leaves.map(leaveItem));
  }

  function countdown(deadline) {
    const left = Math.round((new Date(deadline) - Date.now()) / 1000);
    if (left <= 0) return "已超时 past the deadline";
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    return `剩余 ${m}:${s} left`;
  }

  function renderRollCalls() {
    const entries = home.pending_rollcalls.map((r) => {
      const li = item(el("strong", MODE_LABELS[r.mode] || r.mode));
      li.className = `rollcall mode-${r.mode}`;
      li.dataset.targetId = r.target_id;
      if (r.message) li.append(el("p", r.message));
      li.append(el("p", `截止 Deadline ${when.format(new Date(r.deadline_at))}`, "muted"));
      const clock = el("p", countdown(r.deadline_at), "countdown");
      clock.dataset.deadline = r.deadline_at;
      li.append(clock);
      if (r.mode === "phone") {
        li.append(button("立即应答 Answer now", "big answer", () => beginAnswer(r.target_id)));
      } else if (r.mode === "camera") {
        li.append(el("p", "请在截止前到以下任一摄像头前 Go to one of these cameras before the deadline:"));
        const cameras = el("ul", undefined, "cameras");
        for (const c of r.nearest_cameras || []) {
          const distance = c.distance_m === null || c.distance_m === undefined ? "" : `（约 ${Math.round(c.distance_m)} 米 m）`;
          cameras.append(item(`${c.name}${distance}`));
        }
        li.append(cameras);
      }
      return li;
    });
    fill("rollcall-list", "no-rollcalls", entries);
    clearInterval(countdownTimer);
    if (entries.length) {
      countdownTimer = setInterval(() => {
        for (const clock of document.querySelectorAll(".countdown")) clock.textContent = countdown(clock.dataset.deadline);
      }, 1000);
    }
  }

  function messageItem(m) {
    const li = item(el("p", m.body), el("p", when.format(new Date(m.sent_at)), "muted"));
    li.className = m.read_at ? "message read" : "message unread";
    li.dataset.messageId = m.id;
    if (!m.read_at) {
      li.append(button("标为已读 Mark read", "secondary", (event) => act(event.target, "POST", `/messages/${m.id}/read`)));
    }
    return li;
  }

  function leaveItem(l) {
    const li = item(el("strong", l.destination_name), el("span", ` · ${DECISIONS[l.decision] || l.decision}`, `decision ${l.decision}`));
    li.className = "leave";
    li.dataset.leaveId = l.id;
    li.append(el("p", `${when.format(new Date(l.starts_at))} – ${when.format(new Date(l.ends_at))}`, "muted"));
    if (l.decision_note) li.append(el("p", `民警意见 Officer's note: ${l.decision_note}`));
    if (l.returned_at) {
      li.append(el("p", `已销假 Back since ${when.format(new Date(l.returned_at))}`, "muted"));
    } else if (l.decision === "approved") {
      li.append(button("我已返回 I'm back", "big secondary", (event) => act(event.target, "POST", `/leaves/${l.id}/return`)));
    }
    return li;
  }

  // Answering a roll call: a photo from the camera, downscaled, and the browser's position --------

  function beginAnswer(targetId) {
    answering = targetId;
    $("answer-result").hidden = true;
    $("photo-input").value = "";
    $("photo-input").click();
  }

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => {
        const image = new Image();
        image.onload = () => resolve(image);
        image.onerror = () => reject(new Error("照片无法读取 The photo could not be read"));
        image.src = reader.result;
      };
      reader.onerror = () => reject(new Error("照片无法读取 The photo could not be read"));
      reader.readAsDataURL(file);
    });
  }

  async function downscaled(file) {
    const image = await loadImage(file);
    const scale = Math.min(1, PHOTO_MAX_PX / Math.max(image.naturalWidth, image.naturalHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.8).split(",", 2)[1];
  }

  function currentPosition() {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) {
        reject(new Error("此浏览器无法定位 This browser cannot tell its position"));
        return;
      }
      navigator.geolocation.getCurrentPosition(resolve, () => reject(new Error("请允许本页使用位置 Allow this page to use your location")), {
        enableHighAccuracy: true,
        timeout: 20000,
        maximumAge: 0,
      });
    });
  }

  function answerResult(text, ok) {
    $("answer-result").textContent = text;
    $("answer-result").className = ok ? "result ok" : "result bad";
    $("answer-result").hidden = false;
    $("answer-result").focus();
  }

  $("photo-input").addEventListener("change", async () => {
    const file = $("photo-input").files[0];
    const targetId = answering;
    if (!file || targetId === null) return;
    answering = null;
    answerResult("正在应答… Answering…", true);
    try {
      const [photo, position] = await Promise.all([downscaled(file), currentPosition()]);
      const answer = await api("POST", `/rollcalls/${targetId}/answer`, {
        lat: position.coords.latitude,
        lon: position.coords.longitude,
        accuracy_m: position.coords.accuracy,
        photo,
        photo_type: "image/jpeg",
        ts: new Date(position.timestamp).toISOString(),
      });
      let words = ANSWER_WORDS[answer.status] || `已应答 Answered (${answer.status})`;
      if (answer.separated) words += " 位置与定位设备不一致，民警会核实。Your position differs from your tracker's: your officer will check.";
      answerResult(words, answer.status === "answered");
    } catch (error) {
      if (error.status !== 401) answerResult(`应答失败 Not answered: ${error.message}`, false);
    }
    await refresh();
  });

  // Positions while the page is open ---------------------------------------------------------------

  function reportPosition() {
    navigator.geolocation.getCurrentPosition(
      async (position) => {
        try {
          await api("POST", "/positions", {
            lat: position.coords.latitude,
            lon: position.coords.longitude,
            accuracy_m: position.coords.accuracy,
            ts: new Date(position.timestamp).toISOString(),
          });
          $("position-line").textContent = `位置已上报 Position sent ${when.format(new Date())}（每 ${config.position_interval_s} 秒 every ${config.position_interval_s} s）`;
        } catch (error) {
          if (error.status !== 401) $("position-line").textContent = `位置未上报 Position not sent: ${error.message}`;
        }
      },
      () => {
        $("position-line").textContent = "未允许定位，位置不上报 Location not allowed: no positions sent";
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 10000 },
    );
  }

  function startPositions() {
    if (!navigator.geolocation || positionTimer) return;
    reportPosition();
    positionTimer = setInterval(reportPosition, config.position_interval_s * 1000);
  }

  // The roll-call stream: each event means "re-read the home" ---------------------------------------

  function listen() {
    if (stream) stream.close();
    stream = new EventSource("/api/v1/phone/stream");
    stream.addEventListener("ready", refresh);
    stream.addEventListener("rollcall", refresh);
    stream.addEventListener("error", () => {
      // A revoked or expired session: EventSource would retry for ever; ask the API once.
      if (stream && stream.readyState === EventSource.CLOSED) refresh();
    });
  }

  // Leave request ----------------------------------------------------------------------------------

  let leaveMap = null;
  let leaveMarker = null;

  function setLeavePoint(lat, lon) {
    $("leave-lat").value = lat.toFixed(6);
    $("leave-lon").value = lon.toFixed(6);
    if (!leaveMap) return;
    const at = ewallMap.toMap(lat, lon);
    if (leaveMarker) leaveMarker.setLatLng(at);
    else leaveMarker = L.circleMarker(at, { radius: 8 }).addTo(leaveMap);
    leaveMap.setView(at, Math.max(leaveMap.getZoom(), 12));
  }

  $("leave-panel").addEventListener("toggle", () => {
    if (!$("leave-panel").open || leaveMap || !window.ewallMap) return;
    leaveMap = ewallMap.create("leave-map");
    leaveMap.on("click", (event) => setLeavePoint(...ewallMap.fromMap(event.latlng.lat, event.latlng.lng)));
    const start = new Date(Date.now() + 3600 * 1000);
    if (!$("leave-start").value) $("leave-start").value = localInput(start);
    if (!$("leave-end").value) $("leave-end").value = localInput(new Date(start.getTime() + 24 * 3600 * 1000));
  });

  $("leave-here").addEventListener("click", async () => {
    try {
      const position = await currentPosition();
      setLeavePoint(position.coords.latitude, position.coords.longitude);
    } catch (error) {
      showError($("leave-form"), error);
    }
  });

  // datetime-local inputs are in the phone's own zone; the API takes ISO times with their offset.
  function localInput(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  $("leave-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    showError(form, null);
    const value = (name) => form.elements[name].value.trim();
    const lat = Number(value("lat"));
    const lon = Number(value("lon"));
    const missing = ["destination_name", "lat", "lon", "radius_m", "starts_at", "ends_at", "reason"].filter((n) => !value(n));
    if (missing.length || Number.isNaN(lat) || Number.isNaN(lon)) {
      showError(form, new Error("请填写所有项目，并选择地点 Fill in every field and pick the place"));
      return;
    }
    try {
      await api("POST", "/leaves", {
        destination_name: value("destination_name"),
        lat,
        lon,
        radius_m: Number(value("radius_m")),
        starts_at: new Date(value("starts_at")).toISOString(),
        ends_at: new Date(value("ends_at")).toISOString(),
        reason: value("reason"),
      });
    } catch (error) {
      showError(form, error);
      return;
    }
    form.reset();
    $("leave-panel").open = false;
    notice("请假申请已提交，等待民警审批。Your request was sent: your officer will decide.");
    await refresh();
  });

  // Start ------------------------------------------------------------------------------------------

  async function start() {
    await refresh();
    if (!home) return;
    listen();
    startPositions();
  }

  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => null);
  const code = new URLSearchParams(window.location.search).get("code");
  if (code) {
    // The code is used once: take it out of the address bar (and so out of history and bookmarks).
    window.history.replaceState(null, "", "/m/");
    signIn(code);
  } else {
    start().then(() => {
      if (!home) $("sign-in").hidden = false;
    });
  }
})();
