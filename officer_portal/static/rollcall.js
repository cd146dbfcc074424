// What the roll-call console's pages share: their config (labels, the viewer), times shown in the
// display time zone, table cells built with textContent only (names and messages are user-supplied),
// and a form's refusal shown beside it.
"use strict";

window.rollcall = (() => {
  const config = JSON.parse(document.getElementById("rollcall-config").textContent);
  // As the server's rows show times: 2026-05-01 08:30:00 in the display time zone.
  const timeFormat = new Intl.DateTimeFormat("sv-SE", {
    timeZone: config.tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });

  function time(iso) {
    return iso ? timeFormat.format(new Date(iso)) : "—";
  }

  function label(table, value) {
    return (config.labels[table] || {})[value] || value || "—";
  }

  // An element with text (never HTML) and attributes.
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function row(cells, attrs) {
    const tr = el("tr", null, attrs);
    for (const cell of cells) tr.append(cell instanceof Node ? wrap(cell) : el("td", cell));
    return tr;
  }

  function wrap(node) {
    const td = el("td");
    td.append(node);
    return td;
  }

  function emptyRow(columns, text) {
    const tr = el("tr");
    tr.append(el("td", text, { colspan: String(columns), class: "muted" }));
    return tr;
  }

  // A refusal above the form's button; a 422's field reasons beside their fields where they exist.
  function refuse(form, error) {
    form.querySelectorAll(".field-error").forEach((node) => node.remove());
    const box = form.querySelector(".form-error");
    const unplaced = [];
    if (error.status === 422 && Array.isArray(error.detail)) {
      for (const item of error.detail) {
        const name = String(item.field || "").split(".").pop();
        const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
        if (!input) {
          unplaced.push(item.field ? `${item.field}: ${item.reason}` : item.reason);
          continue;
        }
        const note = el("span", item.reason, { class: "field-error error", role: "alert" });
        input.after(note);
      }
      box.textContent = unplaced.length ? `422: ${unplaced.join("; ")}` : "422: 请更正标出的字段 correct the marked fields";
    } else {
      box.textContent = error.message || String(error);
    }
    box.hidden = false;
  }

  function clear(form) {
    form.querySelectorAll(".field-error").forEach((node) => node.remove());
    const box = form.querySelector(".form-error");
    if (box) box.hidden = true;
  }

  return { config, time, label, el, row, emptyRow, refuse, clear };
})();
