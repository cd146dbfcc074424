// /rollcalls: launch a roll call (POST /api/v1/rollcalls) and list the recent ones with their counts.
"use strict";

(() => {
  const { config, time, label, el, row, emptyRow, refuse, clear } = window.rollcall;
  const form = document.getElementById("launch");
  const chosen = new Map(); // supervisee id -> "name code"

  async function loadList() {
    const body = document.querySelector("#rollcall-list tbody");
    const problem = document.getElementById("list-error");
    try {
      const calls = await ewallApi("GET", "/rollcalls?limit=50");
      problem.hidden = true;
      body.replaceChildren(...calls.map(listRow));
      if (!calls.length) body.append(emptyRow(12, "还没有点名 No roll calls yet."));
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  }

  function listRow(call) {
    const counts = call.counts || {};
    const link = el("a", `#${call.id}`, { href: `/rollcalls/${call.id}` });
    return row(
      [
        link,
        time(call.issued_at),
        label("modes", call.mode),
        call.kind === "scheduled" ? "定时 scheduled" : "临时 ad hoc",
        call.mode === "office" ? `${call.office_date}` : time(call.deadline_at),
        label("call_statuses", call.status),
        call.target_count,
        counts.answered || 0,
        counts.late || 0,
        counts.missed || 0,
        counts.pending || 0,
        counts.excused || 0,
      ],
      { "data-roll-call-id": String(call.id), class: `call-${call.status}` },
    );
  }

  document.getElementById("refresh-list").addEventListener("click", loadList);
  loadList();
  if (!form) return;

  // The audience chooser shows the inputs of the chosen kind only; office mode needs its date.
  function showParts() {
    const audience = form.elements.audience.value;
    form.querySelectorAll(".audience-part").forEach((part) => {
      part.hidden = part.dataset.audience !== audience;
    });
    const mode = form.elements.mode.value;
    form.querySelector(".office-only").hidden = mode !== "office";
    for (const name of ["deadline_min", "close_min"]) {
      form.elements[name].placeholder = `默认 default ${config.defaults[mode][name]}`;
      form.elements[name].disabled = mode === "office";
    }
  }
  form.addEventListener("change", showParts);
  showParts();

  function showChosen() {
    const names = [...chosen.values()];
    document.getElementById("chosen-people").textContent = names.length ? names.join("、") : "—";
  }

  async function search() {
    const q = document.getElementById("person-search").value.trim();
    const list = document.getElementById("person-results");
    if (!q) return;
    const people = await ewallApi("GET", `/supervisees?q=${encodeURIComponent(q)}&active=true&limit=20`);
    list.replaceChildren(
      ...people.map((person) => {
        const item = el("li");
        const box = el("input", null, { type: "checkbox", value: String(person.id), id: `pick-${person.id}` });
        box.checked = chosen.has(person.id);
        box.addEventListener("change", () => {
          if (box.checked) chosen.set(person.id, `${person.full_name} ${person.code}`);
          else chosen.delete(person.id);
          showChosen();
        });
        item.append(box, el("label", `${person.full_name} ${person.code}`, { for: `pick-${person.id}` }));
        return item;
      }),
    );
    if (!people.length) list.append(el("li", "没有找到 No one found", { class: "muted" }));
  }
  document.getElementById("person-search-button").addEventListener("click", () => search().catch((e) => refuse(form, e)));
  document.getElementById("person-search").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter searches; it does not launch the roll call
    search().catch((e) => refuse(form, e));
  });
  document.getElementById("clear-people").addEventListener("click", () => {
    chosen.clear();
    document.querySelectorAll("#person-results input").forEach((box) => (box.checked = false));
    showChosen();
  });

  function audienceOf() {
    const kind = form.elements.audience.value;
    if (kind === "people") return { supervisee_ids: [...chosen.keys()] };
    if (kind === "caseload") return { officer_id: config.officer_id };
    if (kind === "officer") return { officer_id: Number(form.elements.officer_id.value) };
    if (kind === "district") return { district_id: Number(form.elements.district_id.value) };
    const filter = {};
    const district = form.elements.filter_district_id.value;
    if (district) filter.district_id = Number(district);
    if (form.elements.filter_risk_level.value) filter.risk_level = form.elements.filter_risk_level.value;
    if (form.elements.filter_category.value) filter.category = form.elements.filter_category.value;
    return { filter };
  }

  function bodyOf() {
    const body = { mode: form.elements.mode.value, audience: audienceOf() };
    for (const name of ["deadline_min", "close_min"]) {
      const value = form.elements[name].value.trim();
      if (value && !form.elements[name].disabled) body[name] = Number(value);
    }
    if (body.mode === "office") body.office_date = form.elements.office_date.value;
    const message = form.elements.message.value.trim();
    if (message) body.message = message;
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const call = await ewallApi("POST", "/rollcalls", bodyOf());
      window.location.assign(`/rollcalls/${call.id}`);
    } catch (error) {
      refuse(form, error);
    } finally {
      button.disabled = false;
    }
  });
})();
