// /rollcalls/verify: the queue of answer photos waiting for an officer (GET
// /api/v1/rollcall-verifications?status=queued), each beside the person's enrolment photo; Confirm or
// Reject posts to /api/v1/rollcall-targets/{id}/verify and takes the item off the list.
"use strict";

(() => {
  const { time, label, refuse, clear } = window.rollcall;
  const list = document.getElementById("verify-queue");
  const blank = document.getElementById("verify-item").content.firstElementChild;

  function item(v) {
    const node = blank.cloneNode(true);
    const field = (name) => node.querySelector(`[data-field="${name}"]`);
    node.dataset.targetId = String(v.target_id);
    field("person").textContent = `${v.person_name} ${v.person_code}`;
    field("person").href = `/rollcalls/${v.roll_call_id}`;
    field("when").textContent = `${time(v.answered_at)} · ${label("statuses", v.status)}`;
    const distance = v.tracker_distance_m === null ? "无定位器数据 no tracker fix" : `${Math.round(v.tracker_distance_m)} m${v.separated ? " · 人机分离 apart" : ""}`;
    field("facts").textContent = `点名 roll call #${v.roll_call_id} · 距定位器 from tracker: ${distance}`;
    const answer = field("answer-photo");
    answer.alt = `${v.person_name} 的点名照片 answer photo`;
    if (v.has_photo) answer.src = `/api/v1/rollcall-targets/${v.target_id}/photo`;
    const enrolment = field("enrolment-photo");
    enrolment.alt = `${v.person_name} 的入矫照片 enrolment photo`;
    if (v.has_enrolment_photo) enrolment.src = `/api/v1/supervisees/${v.supervisee_id}/enrolment-photo`;
    else {
      enrolment.hidden = true;
      field("no-enrolment").hidden = false;
    }
    const form = node.querySelector("form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(form);
      const confirmed = event.submitter ? event.submitter.value === "true" : true;
      const note = form.elements.note.value.trim();
      try {
        await ewallApi("POST", `/rollcall-targets/${v.target_id}/verify`, { confirmed, note: note || null });
        node.remove();
        counted();
      } catch (error) {
        refuse(form, error);
      }
    });
    return node;
  }

  function counted() {
    const n = list.children.length;
    document.getElementById("queue-size").textContent = `（${n}）`;
    document.getElementById("queue-empty").hidden = n > 0;
  }

  ewallApi("GET", "/rollcall-verifications?status=queued&limit=50")
    .then((queue) => {
      list.replaceChildren(...queue.map(item));
      counted();
    })
    .catch((error) => {
      const box = document.getElementById("queue-error");
      box.textContent = error.message;
      box.hidden = false;
    });
})();
