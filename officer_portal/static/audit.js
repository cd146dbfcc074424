// The chain's status on /audit/chain: asks the API to walk the chain (GET /api/v1/audit/verify) and
// shows the verdict, how far it is sealed and the last checkpoint kept outside the database.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("audit-config").textContent);
  const format = new Intl.DateTimeFormat("zh-CN", {
    timeZone: config.tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
  const local = (iso) => (iso ? format.format(new Date(iso)) : "—");
  const section = document.getElementById("chain-status");
  const field = (id, text) => {
    document.getElementById(id).textContent = text;
  };

  function show(status) {
    section.dataset.state = status.intact ? "intact" : "broken";
    field(
      "chain-verdict",
      status.intact ? "✔ 完整 Intact: every entry matches its hash, seal and the checkpoints" : "✘ 已破坏 Broken: see the problems below",
    );
    field(
      "chain-sealed",
      status.sealed_up_to_id === null ? "尚无签章条目 no sealed entry yet" : `#${status.sealed_up_to_id} · ${local(status.sealed_up_to_at)}`,
    );
    field(
      "chain-checkpoint",
      status.last_checkpoint_id === null
        ? "尚无检查点 no checkpoint yet"
        : `#${status.last_checkpoint_id} · ${status.last_checkpoint_count} 条 entries · ${local(status.last_checkpoint_at)}`,
    );
    field("chain-powers", status.app_role_can.length ? status.app_role_can.join("; ") : "只能读取和追加 read and append only");
    const list = document.getElementById("chain-problems");
    list.replaceChildren();
    const problems = status.problems.length ? status.problems : ["无 none"];
    for (const problem of problems) {
      const item = document.createElement("li");
      item.textContent = problem;
      list.append(item);
    }
  }

  window
    .ewallApi("GET", "/audit/verify")
    .then(show)
    .catch((error) => {
      section.dataset.state = "failed";
      field("chain-verdict", `校验未完成 The check did not finish: ${error.message}`);
    });
})();
