// Every page: htmx requests carry the session's CSRF token (see caseload/auth.py), and an htmx
// request the server refuses shows its reason next to the form that sent it instead of nothing.
"use strict";

// An API refusal's detail as one line: a reason, or invalid input's reason per field
// ([{field, reason, type}], core/web.py).
window.ewallReason = (detail) =>
  Array.isArray(detail) ? detail.map((d) => (d.field ? `${d.field}: ${d.reason}` : d.reason)).join("; ") : String(detail);

document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["X-CSRF-Token"] = token.content;
});
// A form's error line (made on first use), read out by screen readers.
window.ewallShowError = (form, message) => {
  let box = form.querySelector(".form-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "form-error error";
    box.setAttribute("role", "alert");
    form.append(box);
  }
  box.textContent = message;
};

document.addEventListener("htmx:responseError", (event) => {
  const form = event.detail.elt.closest("form") || event.detail.elt;
  let reason = event.detail.xhr.responseText;
  try {
    reason = ewallReason(JSON.parse(reason).detail);
  } catch (_) {
    // Not JSON: shown as it came.
  }
  ewallShowError(form, `${event.detail.xhr.status}: ${reason}`);
});

// The pages' actions go to the REST API with the session cookie and the CSRF token, so the API's
// role and caseload checks are the ones that apply. Resolves to the JSON answer (null for 204);
// a refusal rejects with an Error whose message is the API's reason.
window.ewallApi = async (method, path, body) => {
  const headers = { Accept: "application/json" };
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) headers["X-CSRF-Token"] = token.content;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = text;
  }
  if (!response.ok) {
    const detail = data && data.detail !== undefined ? data.detail : data;
    const error = new Error(`${response.status}: ${ewallReason(detail)}`);
    error.status = response.status;
    error.detail = detail;
    throw error;
  }
  return data;
};
