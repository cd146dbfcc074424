// Every page: htmx requests carry the session's CSRF token (see caseload/auth.py), and an htmx
// request the server refuses shows its reason next to the form that sent it instead of nothing.
"use strict";
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["X-CSRF-Token"] = token.content;
});
document.addEventListener("htmx:responseError", (event) => {
  const form = event.detail.elt.closest("form") || event.detail.elt;
  let box = form.querySelector(".form-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "form-error error";
    box.setAttribute("role", "alert");
    form.append(box);
  }
  let reason = event.detail.xhr.responseText;
  try {
    const detail = JSON.parse(reason).detail;
    reason = Array.isArray(detail) ? detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") : detail;
  } catch (_) {
    // Not JSON: shown as it came.
  }
  box.textContent = `${event.detail.xhr.status}: ${reason}`;
});
