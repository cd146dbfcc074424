// /rollcalls/rules: the scheduled rules (GET /api/v1/rollcall-rules); supervisors and above create
// (POST), edit (PATCH) and delete (DELETE) them. The API's reasons show beside the fields.
"use strict";

(() => {
  const { config, time, label, el, row, emptyRow, refuse, clear } = window.rollcall;
  const form = document.getElementById("rule-form");
  const rules = new Map();
  let editing = null;

  function minutes(rule) {
    return `${rule.deadline_min} / ${rule.close_min} 分钟 min`;
  }

  function ruleRow(rule) {
    const actions = el("td");
    if (form) {
      actions.append(el("button", "编辑 Edit", { type: "button", class: "small edit", "data-rule-id": String(rule.id) }));
      actions.append(" ");
      actions.append(el("button", "删除 Delete", { type: "button", class: "small danger delete", "data-rule-id": String(rule.id) }));
    }
    const next = (rule.planned || []).slice().sort()[0];
    return row(
      [
        config.district_names[rule.district_id] || `#${rule.district_id}`,
        label("risks", rule.risk_level),
        label("modes", rule.mode),
        `${label("periods", rule.period)} × ${rule.times_per_period}`,
        `${rule.window_start.slice(0, 5)}–${rule.window_end.slice(0, 5)}`,
        minutes(rule),
        rule.active ? "是 yes" : "否 no",
        next ? time(next) : "—",
        actions,
      ],
      { "data-rule-id": String(rule.id), class: rule.active ? "" : "inactive" },
    );
  }

  async function load() {
    const body = document.querySelector("#rules tbody");
    const problem = document.getElementById("rules-error");
    try {
      const list = await ewallApi("GET", "/rollcall-rules");
      problem.hidden = true;
      rules.clear();
      list.forEach((rule) => rules.set(rule.id, rule));
      body.replaceChildren(...list.map(ruleRow));
      if (!list.length) body.append(emptyRow(9, "还没有规则 No rules yet."));
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  }
  load();
  if (!form) return;

  function bodyOf() {
    const body = {};
    for (const name of ["risk_level", "mode", "period", "window_start", "window_end"]) body[name] = form.elements[name].value;
    body.times_per_period = Number(form.elements.times_per_period.value);
    for (const name of ["deadline_min", "close_min"]) {
      const value = form.elements[name].value.trim();
      if (value) body[name] = Number(value);
    }
    body.active = form.elements.active.checked;
    if (!editing) body.district_id = Number(form.elements.district_id.value);
    return body;
  }

  function edit(rule) {
    editing = rule;
    clear(form);
    document.getElementById("rule-form-heading").textContent = `编辑规则 Edit rule #${rule.id}`;
    form.elements.district_id.value = String(rule.district_id);
    form.elements.district_id.disabled = true; // a rule stays with its district
    for (const name of ["risk_level", "mode", "period", "times_per_period", "deadline_min", "close_min"]) {
      form.elements[name].value = String(rule[name]);
    }
    form.elements.window_start.value = rule.window_start.slice(0, 5);
    form.elements.window_end.value = rule.window_end.slice(0, 5);
    form.elements.active.checked = rule.active;
    document.getElementById("rule-new").hidden = false;
    form.elements.risk_level.focus();
  }

  function stopEditing() {
    editing = null;
    form.reset();
    form.elements.district_id.disabled = false;
    document.getElementById("rule-form-heading").textContent = "新建规则 New rule";
    document.getElementById("rule-new").hidden = true;
    clear(form);
  }
  document.getElementById("rule-new").addEventListener("click", stopEditing);

  document.querySelector("#rules tbody").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const rule = rules.get(Number(button.dataset.ruleId));
    if (button.classList.contains("edit")) return edit(rule);
    if (!button.classList.contains("delete")) return;
    try {
      await ewallApi("DELETE", `/rollcall-rules/${rule.id}`);
      if (editing && editing.id === rule.id) stopEditing();
      load();
    } catch (error) {
      const problem = document.getElementById("rules-error");
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(form);
    try {
      if (editing) await ewallApi("PATCH", `/rollcall-rules/${editing.id}`, bodyOf());
      else await ewallApi("POST", "/rollcall-rules", bodyOf());
      stopEditing();
      load();
    } catch (error) {
      refuse(form, error);
    }
  });
})();
