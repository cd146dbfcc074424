// Caseload administration: each form.api sends its fields to the REST API (data-method, data-path)
// through ewallApi, so the API's role ceilings and scope decide, and its refusal is shown in the form.
// A form with data-secret shows what the answer holds only this once: a password generated here
// (data-secret="password") or the token the API generated (data-secret="token").
"use strict";
(() => {
  // No look-alike characters (0/O, 1/l/I): the password is read out or copied by hand.
  const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

  function generatedPassword(length = 16) {
    const limit = 256 - (256 % ALPHABET.length); // rejection sampling keeps every character equally likely
    const chars = [];
    while (chars.length < length) {
      for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
        if (byte < limit && chars.length < length) chars.push(ALPHABET[byte % ALPHABET.length]);
      }
    }
    return chars.join("");
  }

  const CONVERT = {
    int: (v) => Number.parseInt(v, 10),
    float: (v) => Number(v),
    bool: (v) => v === "true",
  };

  function bodyOf(form) {
    const body = {};
    for (const field of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      const value = field.value.trim();
      if (value === "") continue; // left empty: the API's default
      const convert = CONVERT[field.dataset.type];
      body[field.name] = convert ? convert(value) : value;
    }
    return body;
  }

  const showError = window.ewallShowError;

  function showSecret(title, fields) {
    const box = document.getElementById("one-time-secret");
    document.getElementById("secret-title").textContent = title;
    const list = document.getElementById("secret-fields");
    list.replaceChildren();
    for (const [label, value] of fields) {
      const term = document.createElement("dt");
      term.textContent = label;
      const detail = document.createElement("dd");
      const code = document.createElement("code");
      code.textContent = String(value);
      detail.append(code);
      list.append(term, detail);
    }
    box.hidden = false;
    box.scrollIntoView({ block: "start" });
    box.focus();
  }

  async function submit(form) {
    const body = bodyOf(form);
    const secret = form.dataset.secret;
    if (secret === "password") body.password = generatedPassword();
    const method = form.dataset.method;
    const answer = await window.ewallApi(method, form.dataset.path, method === "DELETE" ? undefined : body);
    if (secret === "password") {
      showSecret(form.dataset.secretTitle, [
        ["用户名 Username", answer.username],
        ["初始密码 Password", body.password],
      ]);
    } else if (secret === "token") {
      showSecret(form.dataset.secretTitle, [
        ["编号 Id", answer.id],
        ["令牌 Token", answer.token],
      ]);
    } else {
      window.location.reload();
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.api");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const old = form.querySelector(".form-error");
    if (old) old.textContent = "";
    submit(form)
      .catch((error) => showError(form, error.message))
      .finally(() => {
        button.disabled = false;
      });
  });

  // The secret is gone once the list is shown again.
  document.getElementById("secret-done").addEventListener("click", () => window.location.reload());
})();
