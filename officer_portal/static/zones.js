// The zone editor and travel leave (/zones). Shapes are drawn and edited with leaflet-geoman in the
// tiles' datum and sent to the API in WGS-84 (ewallMap.geometryFromMap); a drawn circle is sent as a
// 64-gon, which the API accepts. The API decides every change: its refusal is shown on the shape (a
// popup) and next to the form field it names.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("zone-editor-config").textContent);
  const map = ewallMap.create("zone-map");
  const form = document.getElementById("zone-form");
  const hint = document.getElementById("draw-hint");
  const KIND_COLOURS = { inclusion: "#1f77b4", exclusion: "#d62728", poi: "#7f7f7f" };
  const CIRCLE_VERTICES = 64;
  const METRES_PER_DEGREE = 111_320;
  const OFFSET = "+08:00"; // the display time zone, Asia/Shanghai, has no summer time

  const text = (value) => {
    const span = document.createElement("span");
    span.textContent = value;
    return span;
  };
  const toLayer = (geometry, style) => L.geoJSON(ewallMap.geometryToMap(geometry), { style }).getLayers()[0];

  const shown = L.featureGroup().addTo(map);
  const zoneLayers = new Map();
  for (const zone of config.zones) {
    const style = { color: KIND_COLOURS[zone.kind], weight: 2, fillOpacity: 0.12, dashArray: zone.schedule ? "6 4" : null };
    const layer = toLayer(zone.geometry, style).addTo(shown);
    layer.bindTooltip(text(zone.name));
    zoneLayers.set(zone.id, layer);
  }
  for (const leave of config.leaves) {
    const layer = toLayer(leave.destination, { color: "#2e7d32", weight: 2, dashArray: "2 6", fillOpacity: 0.05 });
    layer.addTo(shown).bindTooltip(text(`请假 leave: ${leave.destination_name}`));
    layer.pm.setOptions({ pmIgnore: true });
  }
  if (shown.getLayers().length) map.fitBounds(shown.getBounds(), { padding: [24, 24], maxZoom: 16 });

  // What is being edited: the zone (null when new) and its layer on the map.
  let current = null;
  // Where the next drawn shape goes: the zone form, or the leave request's destination.
  let drawingFor = "zone";
  let leaveDestination = null;
  let leaveLayer = null;

  function circleAsPolygon(circle) {
    const centre = circle.getLatLng();
    const radius = circle.getRadius();
    const ring = [];
    for (let i = 0; i < CIRCLE_VERTICES; i += 1) {
      const angle = (2 * Math.PI * i) / CIRCLE_VERTICES;
      const dLat = (radius * Math.cos(angle)) / METRES_PER_DEGREE;
      const dLon = (radius * Math.sin(angle)) / (METRES_PER_DEGREE * Math.cos((centre.lat * Math.PI) / 180));
      ring.push([centre.lat + dLat, centre.lng + dLon]);
    }
    return L.polygon(ring);
  }

  const geometryOf = (layer) => ewallMap.geometryFromMap(layer.toGeoJSON().geometry);

  document.querySelectorAll("[data-draw]").forEach((button) =>
    button.addEventListener("click", () => {
      map.pm.enableDraw(button.dataset.draw, { allowSelfIntersection: true });
      hint.textContent =
        button.dataset.draw === "Polygon"
          ? "点击各顶点，回到第一个点结束 Click each corner; click the first one to finish."
          : "按下并拖动，或点击两次 Click twice (start and end).";
    }),
  );

  map.on("pm:create", ({ layer, shape }) => {
    let drawn = layer;
    if (shape === "Circle") {
      map.removeLayer(layer);
      drawn = circleAsPolygon(layer).addTo(map);
    }
    placed(drawn);
  });

  // Without a pointer: a circle from its centre (WGS-84, as the API and a phone give it) and radius.
  document.getElementById("circle-by-keyboard").addEventListener("submit", (event) => {
    event.preventDefault();
    const values = new FormData(event.target);
    const centre = ewallMap.toMap(Number(values.get("lat")), Number(values.get("lon")));
    const drawn = circleAsPolygon(L.circle(centre, { radius: Number(values.get("radius_m")) })).addTo(map);
    map.fitBounds(drawn.getBounds(), { padding: [24, 24] });
    placed(drawn);
  });

  // A shape drawn: the leave request's destination, or a new zone.
  function placed(drawn) {
    hint.textContent = "";
    map.pm.disableDraw();
    if (drawingFor === "leave") {
      drawingFor = "zone";
      if (leaveLayer) map.removeLayer(leaveLayer);
      leaveLayer = drawn;
      drawn.setStyle({ color: "#2e7d32", dashArray: "2 6" });
      leaveDestination = geometryOf(drawn);
      document.getElementById("destination-state").textContent = "已画目的地 destination drawn";
      return;
    }
    if (current) stopEditing();
    openForm(null, drawn);
  }

  // The form --------------------------------------------------------------------------------------

  const field = (name) => form.elements.namedItem(name);

  function openForm(zone, layer) {
    current = { zone, layer };
    clearErrors();
    form.hidden = false;
    document.getElementById("zone-form-title").textContent = zone ? `编辑 Edit: ${zone.name}` : "新围栏 New zone";
    field("id").value = zone ? zone.id : "";
    field("name").value = zone ? zone.name : "";
    if (zone) field("owner").value = zone.supervisee_id ? `supervisee:${zone.supervisee_id}` : `district:${zone.district_id}`;
    field("kind").value = zone ? zone.kind : "inclusion";
    field("severity").value = zone ? zone.severity : "yellow";
    field("buffer_m").value = zone ? zone.buffer_m : 0;
    field("priority").value = zone ? zone.priority : 0;
    // Who owns a zone and what kind it is stay as made (the API changes neither).
    field("owner").disabled = field("kind").disabled = Boolean(zone);
    document.getElementById("delete-zone").hidden = !zone;
    fillSchedule(zone ? zone.schedule : null);
    layer.pm.enable({ allowSelfIntersection: true });
    form.scrollIntoView({ block: "nearest" });
    field("name").focus();
  }

  function stopEditing() {
    current.layer.pm.disable();
    if (!current.zone) map.removeLayer(current.layer);
    current = null;
    form.hidden = true;
  }

  document.querySelectorAll(".edit-zone").forEach((button) =>
    button.addEventListener("click", () => {
      if (current) stopEditing();
      const id = Number(button.dataset.zoneId);
      const layer = zoneLayers.get(id);
      map.fitBounds(layer.getBounds(), { padding: [24, 24] });
      openForm(config.zones.find((z) => z.id === id), layer);
    }),
  );

  document.getElementById("cancel-zone").addEventListener("click", () => {
    // An edited shape goes back to what is saved: the page as the server has it.
    if (current && current.zone) window.location.reload();
    else if (current) stopEditing();
  });

  // Schedule rows: weekly windows and dated exceptions, as geofence/schedule.py reads them.
  function addRow(templateId, containerId) {
    const row = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    row.querySelector(".remove-row").addEventListener("click", () => row.remove());
    document.getElementById(containerId).append(row);
    return row;
  }
  document.getElementById("add-window").addEventListener("click", () => addRow("weekly-window", "weekly-windows"));
  document.getElementById("add-exception").addEventListener("click", () =>
    addRow("schedule-exception", "schedule-exceptions"),
  );

  function fillSchedule(schedule) {
    document.getElementById("weekly-windows").replaceChildren();
    document.getElementById("schedule-exceptions").replaceChildren();
    for (const window of (schedule && schedule.weekly) || []) {
      const row = addRow("weekly-window", "weekly-windows");
      row.querySelectorAll(".days input").forEach((box) => {
        box.checked = window.days.includes(Number(box.value));
      });
      row.querySelector(".from").value = window.from;
      row.querySelector(".to").value = window.to;
    }
    for (const exception of (schedule && schedule.exceptions) || []) {
      const row = addRow("schedule-exception", "schedule-exceptions");
      row.querySelector(".date").value = exception.date;
      row.querySelector(".windows").value = exception.windows.map((w) => `${w.from}-${w.to}`).join(", ");
    }
  }

  function readSchedule() {
    const weekly = [...document.querySelectorAll("#weekly-windows .window-row")].map((row) => ({
      days: [...row.querySelectorAll(".days input:checked")].map((box) => Number(box.value)),
      from: row.querySelector(".from").value,
      to: row.querySelector(".to").value,
    }));
    const exceptions = [...document.querySelectorAll("#schedule-exceptions .exception-row")].map((row) => ({
      date: row.querySelector(".date").value,
      windows: row
        .querySelector(".windows")
        .value.split(",")
        .map((part) => part.trim())
        .filter(Boolean)
        .map((part) => {
          const [from, to = ""] = part.split("-").map((t) => t.trim());
          return { from, to };
        }),
    }));
    if (!weekly.length && !exceptions.length) return null;
    return exceptions.length ? { weekly, exceptions } : { weekly };
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((p) => {
      p.textContent = "";
    });
    document.getElementById("zone-error").textContent = "";
  }

  // The API's 422 lists {field, reason} (core/web.py); other refusals carry one reason.
  const fieldErrors = (error) =>
    Array.isArray(error.detail)
      ? error.detail.map((item) => ({ field: item.field, reason: item.reason }))
      : null;
  const reasonOf = (error) => {
    const fields = fieldErrors(error);
    return fields ? fields.map((f) => `${f.field || "请求 request"}: ${f.reason}`).join("; ") : `${error.status}: ${error.detail}`;
  };

  // The API's reasons: each field error next to its field, all of them on the shape.
  function showRefusal(error, layer) {
    const lines = [];
    const fields = fieldErrors(error);
    if (fields) {
      for (const { field: name, reason } of fields) {
        const top = name.split(".")[0];
        const key = top === "supervisee_id" || top === "district_id" ? "owner" : top;
        const where = form.querySelector(`[data-error-for="${key}"]`) || document.getElementById("zone-error");
        const line = `${name || "区域 zone"}: ${reason}`;
        where.textContent = where.textContent ? `${where.textContent}; ${line}` : line;
        lines.push(line);
      }
    } else {
      const line = reasonOf(error);
      const aboutShape = /polygon|geometry|coordinates/i.test(String(error.detail));
      (aboutShape ? form.querySelector('[data-error-for="geometry"]') : document.getElementById("zone-error")).textContent =
        line;
      lines.push(line);
    }
    const box = document.createElement("div");
    box.className = "shape-error";
    box.setAttribute("role", "alert");
    box.append(text("未保存 Not saved"));
    for (const line of lines) box.append(document.createElement("br"), text(line));
    layer.bindPopup(box, { maxWidth: 320 }).openPopup();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const { zone, layer } = current;
    const body = {
      name: field("name").value,
      severity: field("severity").value,
      buffer_m: Number(field("buffer_m").value || 0),
      priority: Number(field("priority").value || 0),
      schedule: readSchedule(),
      geometry: geometryOf(layer),
    };
    try {
      if (zone) {
        await ewallApi("PATCH", `/zones/${zone.id}`, body);
      } else {
        const [ownerKind, ownerId] = field("owner").value.split(":");
        body.kind = field("kind").value;
        body[`${ownerKind}_id`] = Number(ownerId);
        await ewallApi("POST", "/zones", body);
      }
      window.location.reload();
    } catch (error) {
      showRefusal(error, layer);
    }
  });

  document.getElementById("delete-zone").addEventListener("click", async () => {
    try {
      await ewallApi("DELETE", `/zones/${current.zone.id}`);
      window.location.reload();
    } catch (error) {
      showRefusal(error, current.layer);
    }
  });

  // Travel leave ----------------------------------------------------------------------------------

  const leaveForm = document.getElementById("leave-form");
  const leaveError = document.getElementById("leave-error");

  document.getElementById("draw-destination").addEventListener("click", () => {
    drawingFor = "leave";
    map.pm.enableDraw("Rectangle");
    hint.textContent = "画出目的地范围 Draw the destination area (click twice).";
    document.getElementById("zone-map").scrollIntoView({ block: "nearest" });
  });

  const nextDay = (day) => {
    const date = new Date(`${day}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + 1);
    return date.toISOString().slice(0, 10);
  };

  leaveForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    leaveError.textContent = "";
    const data = new FormData(leaveForm);
    if (!leaveDestination) {
      leaveError.textContent = "请先在地图上画目的地 Draw the destination on the map first.";
      return;
    }
    const startsOn = data.get("starts_on");
    const endsOn = data.get("ends_on");
    const body = {
      supervisee_id: Number(data.get("supervisee_id")),
      destination: leaveDestination,
      destination_name: data.get("destination_name"),
      // Whole local days: from the first day's 00:00 to the end of the last.
      starts_at: startsOn ? `${startsOn}T00:00:00${OFFSET}` : null,
      ends_at: endsOn ? `${nextDay(endsOn)}T00:00:00${OFFSET}` : null,
      reason: data.get("reason"),
    };
    try {
      await ewallApi("POST", "/leaves", body);
      window.location.reload();
    } catch (error) {
      leaveError.textContent = reasonOf(error);
      if (leaveLayer) leaveLayer.bindPopup(text(reasonOf(error))).openPopup();
    }
  });

  document.querySelectorAll(".leave-decision").forEach((decision) =>
    decision.addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = decision.elements.namedItem("note").value;
      try {
        await ewallApi("POST", `/leaves/${decision.dataset.leaveId}/${event.submitter.value}`, { note });
        window.location.reload();
      } catch (error) {
        decision.querySelector(".error").textContent = reasonOf(error);
      }
    }),
  );

  document.querySelectorAll(".leave-return").forEach((back) =>
    back.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await ewallApi("POST", `/leaves/${back.dataset.leaveId}/return`);
        window.location.reload();
      } catch (error) {
        back.querySelector(".error").textContent = reasonOf(error);
      }
    }),
  );
})();
