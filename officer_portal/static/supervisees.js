// Supervisees' pages: every form with class "api-form" is sent to the REST API (ewallApi, portal.js)
// as JSON; the API's 422 reasons appear next to their fields, any other refusal above the button.
// Registering a phone shows the device's id, token and set-up QR codes once, from the POST's answer.
"use strict";

const FIELD_ERROR = "field-error";

function clearErrors(form) {
  form.querySelectorAll(`.${FIELD_ERROR}`).forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  const box = form.querySelector(".form-error");
  if (box) box.hidden = true;
}

// Every form of these pages has its own (hidden) .form-error paragraph.
function formError(form, text) {
  const box = form.querySelector(".form-error");
  box.textContent = text;
  box.hidden = false;
}

// A field's reason goes right after its input (or its fieldset); reasons about no one field (a
// model rule such as "supervision_end is before supervision_start") go above the button.
function showRefusal(form, error) {
  const unplaced = [];
  if (error.status === 422 && Array.isArray(error.detail)) {
    // core.web's shape: {field: "code" (a body field) or "" (the whole body), reason, type}.
    for (const item of error.detail) {
      const name = String(item.field || "").split(".")[0];
      const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
      if (!input) {
        unplaced.push(item.field ? `${item.field}: ${item.reason}` : item.reason);
        continue;
      }
      input.setAttribute("aria-invalid", "true");
      const note = document.createElement("span");
      note.className = `${FIELD_ERROR} error`;
      note.setAttribute("role", "alert");
      note.textContent = item.reason;
      (input.closest("fieldset") || input).after(note);
    }
    if (unplaced.length) formError(form, `422: ${unplaced.join("; ")}`);
    return;
  }
  formError(form, error.message);
}

// The form's fields as the API's JSON: empty ones left out, grounds as a list, ids as numbers.
function bodyOf(form) {
  const body = {};
  for (const input of form.elements) {
    if (!input.name || input.type === "submit" || input.name === "confirm") continue;
    if (input.type === "checkbox") {
      if (!body[input.name]) body[input.name] = [];
      if (input.checked) body[input.name].push(input.value);
      continue;
    }
    const value = input.value.trim();
    if (value === "") continue;
    body[input.name] = input.dataset.type === "int" ? Number(value) : value;
  }
  return body;
}

async function send(form) {
  clearErrors(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const body = form.dataset.send === "nothing" ? undefined : bodyOf(form);
    const answer = await window.ewallApi(form.dataset.method, form.dataset.path, body);
    if (form.dataset.then === "open-supervisee") window.location.assign(`/supervisees/${answer.id}`);
    else window.location.reload();
  } catch (error) {
    showRefusal(form, error);
  } finally {
    button.disabled = false;
  }
}

document.querySelectorAll("form.api-form").forEach((form) => {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form);
  });
});

document.querySelectorAll("button.revoke-device").forEach((button) => {
  button.addEventListener("click", async () => {
    const box = document.getElementById("devices-error");
    box.hidden = true;
    button.disabled = true;
    try {
      await window.ewallApi("DELETE", button.dataset.path);
      window.location.reload();
    } catch (error) {
      box.textContent = error.message;
      box.hidden = false;
      button.disabled = false;
    }
  });
});

// The answer holds the device's secrets: they are put on the page as text and images only, never in
// the address bar or storage, so a reload (or leaving) loses them, as the page says.
function showSetup(device) {
  const panel = document.getElementById("phone-setup");
  const part = (name) => panel.querySelector(`[data-setup="${name}"]`);
  part("id").textContent = String(device.id);
  part("key").textContent = device.external_id;
  part("token").textContent = device.token;
  part("ingest").textContent = device.setup.ingest_url;
  part("owntracks-qr").src = device.setup.owntracks_qr;
  part("owntracks-url").textContent = device.setup.owntracks_url;
  const traccar = Boolean(device.setup.traccar_qr);
  part("traccar").hidden = !traccar;
  part("no-traccar").hidden = traccar;
  if (traccar) {
    part("traccar-qr").src = device.setup.traccar_qr;
    part("traccar-url").textContent = device.setup.traccar_url;
  }
  panel.hidden = false;
  panel.scrollIntoView({ block: "start" });
  panel.querySelector("h3").focus();
}

const phoneForm = document.getElementById("register-phone");
if (phoneForm) {
  phoneForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(phoneForm);
    const button = phoneForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      showSetup(await window.ewallApi("POST", phoneForm.dataset.path, bodyOf(phoneForm)));
      document.getElementById("register-phone-panel").hidden = true;
    } catch (error) {
      showRefusal(phoneForm, error);
    } finally {
      button.disabled = false;
    }
  });
}
