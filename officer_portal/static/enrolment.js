// The supervisee page's enrolment photo panel: upload (the image's bytes as the PUT body), show (an
// audited read, so only on request) and delete, all through the REST API.
"use strict";

(() => {
  const panel = document.getElementById("enrolment");
  if (!panel) return;
  const path = `/api/v1${panel.dataset.photoPath}`;
  const form = document.getElementById("enrolment-upload");

  function refused(text) {
    const box = form.querySelector(".form-error");
    box.textContent = text;
    box.hidden = false;
  }

  async function send(method, body) {
    const token = document.querySelector('meta[name="csrf-token"]');
    const response = await fetch(path, {
      method,
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": token ? token.content : "" },
    });
    if (response.ok) return window.location.reload();
    let reason = await response.text();
    try {
      reason = ewallReason(JSON.parse(reason).detail);
    } catch (_) {
      // Not JSON (a proxy's page, say): shown as it came.
    }
    refused(`${response.status}: ${reason}`);
  }

  const show = document.getElementById("show-enrolment-photo");
  if (show) {
    show.addEventListener("click", () => {
      const image = document.getElementById("enrolment-photo");
      image.src = path;
      image.hidden = false;
      show.disabled = true;
    });
  }
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.elements.photo.files[0];
    if (!file) return refused("请选择照片 Choose a photo first");
    send("PUT", file).catch((error) => refused(String(error)));
  });
  const remove = document.getElementById("delete-enrolment-photo");
  if (remove) remove.addEventListener("click", () => send("DELETE").catch((error) => refused(String(error))));
})();
