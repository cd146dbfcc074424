// /rollcalls/stats: answer rate, median delay, late and missed per officer and per district for a
// period (GET /api/v1/rollcalls/stats). Dates are days in the display time zone.
"use strict";

(() => {
  const { config, el, emptyRow, refuse, clear } = window.rollcall;
  const form = document.getElementById("stats-form");

  function delay(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    return seconds < 120 ? `${Math.round(seconds)} 秒 s` : `${(seconds / 60).toFixed(1)} 分钟 min`;
  }

  function fill(table, rows) {
    const body = document.querySelector(`#stats-${table} tbody`);
    body.replaceChildren(
      ...rows.map((r) => {
        const tr = el("tr", null, { "data-id": String(r.id) });
        tr.append(el("td", r.name));
        const rate = r.answer_rate === null || r.answer_rate === undefined ? "—" : `${(r.answer_rate * 100).toFixed(1)} %`;
        for (const value of [r.called, r.answered, r.late, r.missed, r.excused, r.pending, rate, delay(r.median_delay_s)]) {
          tr.append(el("td", value, { class: "num" }));
        }
        return tr;
      }),
    );
    if (!rows.length) body.append(emptyRow(9, "这段时间没有点名 No roll calls in this period."));
  }

  function nextDay(day) {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  async function show() {
    clear(form);
    const since = `${form.elements.since.value}T00:00:00${config.utc_offset}`;
    const until = `${nextDay(form.elements.until.value)}T00:00:00${config.utc_offset}`;
    const query = new URLSearchParams({ since, until });
    if (form.elements.district_id.value) query.set("district_id", form.elements.district_id.value);
    try {
      const stats = await ewallApi("GET", `/rollcalls/stats?${query}`);
      fill("officers", stats.officers);
      fill("districts", stats.districts);
    } catch (error) {
      refuse(form, error);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  show();
})();
