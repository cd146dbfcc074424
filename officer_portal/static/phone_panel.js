// The supervisee page's "手机页面 Phone page" and "消息 Messages" panels (#16): the person's sign-in
// links and the messages sent to their phone, read from and changed through the REST API. A new
// link's URL and QR code come only in the answer that made it, so they are shown once, here.
"use strict";

(() => {
  const panels = document.getElementById("phone-panels");
  if (!panels) return;
  const person = panels.dataset.superviseeId;
  const format = new Intl.DateTimeFormat("zh-CN", {
    timeZone: panels.dataset.displayTz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  const at = (iso) => (iso ? format.format(new Date(iso)) : "");
  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const linksError = document.getElementById("phone-links-error");
  const canManage = Boolean(document.getElementById("issue-phone-link"));

  function linkState(link) {
    if (link.revoked_at) return `已撤销 revoked ${at(link.revoked_at)}`;
    if (link.redeemed_at) return `已登录 signed in ${at(link.redeemed_at)}`;
    if (new Date(link.code_expires_at) <= new Date()) return `已过期 expired ${at(link.code_expires_at)}`;
    return `未使用，${at(link.code_expires_at)} 前有效 unused, valid until then`;
  }

  async function loadLinks() {
    let links;
    try {
      links = await ewallApi("GET", `/supervisees/${person}/phone-links`);
    } catch (error) {
      linksError.textContent = error.message;
      linksError.hidden = false;
      return;
    }
    const rows = links.map((link) => {
      const row = document.createElement("tr");
      row.dataset.linkId = link.id;
      row.append(cell(String(link.id)), cell(at(link.created_at), "date"), cell(linkState(link)));
      const actions = cell("");
      if (canManage && !link.revoked_at && (link.redeemed_at || new Date(link.code_expires_at) > new Date())) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "danger";
        revoke.textContent = "撤销 Revoke";
        revoke.addEventListener("click", () => revokeLink(link.id, revoke));
        actions.append(revoke);
      }
      row.append(actions);
      return row;
    });
    if (!rows.length) {
      const row = document.createElement("tr");
      const empty = cell("还没有登录链接 No sign-in link yet.", "muted");
      empty.colSpan = 4;
      row.append(empty);
      rows.push(row);
    }
    document.getElementById("phone-links").replaceChildren(...rows);
  }

  async function revokeLink(id, button) {
    button.disabled = true;
    linksError.hidden = true;
    try {
      await ewallApi("POST", `/phone-links/${id}/revoke`);
    } catch (error) {
      linksError.textContent = error.message;
      linksError.hidden = false;
      button.disabled = false;
      return;
    }
    await loadLinks();
  }

  async function issueLink(button) {
    button.disabled = true;
    linksError.hidden = true;
    try {
      const link = await ewallApi("POST", `/supervisees/${person}/phone-links`);
      const shown = document.getElementById("phone-link-issued");
      shown.querySelector('[data-link="qr"]').src = link.qr_svg;
      shown.querySelector('[data-link="url"]').textContent = link.url;
      shown.querySelector('[data-link="expires"]').textContent = at(link.code_expires_at);
      shown.hidden = false;
      shown.querySelector("h3").focus();
      await loadLinks();
    } catch (error) {
      linksError.textContent = error.message;
      linksError.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function loadMessages() {
    const list = document.getElementById("messages-sent");
    let messages;
    try {
      messages = await ewallApi("GET", `/supervisees/${person}/messages?limit=50`);
    } catch (error) {
      const item = document.createElement("li");
      item.className = "error";
      item.textContent = error.message;
      list.replaceChildren(item);
      return;
    }
    const items = messages.map((m) => {
      const item = document.createElement("li");
      item.dataset.messageId = m.id;
      const body = document.createElement("p");
      body.textContent = m.body;
      const meta = document.createElement("p");
      meta.className = "muted";
      meta.textContent = `${at(m.sent_at)} · ${m.read_at ? `已读 read ${at(m.read_at)}` : "未读 unread"}`;
      item.append(body, meta);
      return item;
    });
    if (!items.length) {
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = "没有消息 No messages.";
      items.push(item);
    }
    list.replaceChildren(...items);
  }

  const issue = document.getElementById("issue-phone-link");
  if (issue) issue.addEventListener("click", () => issueLink(issue));
  const form = document.getElementById("send-message");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = form.querySelector(".form-error");
      box.hidden = true;
      const body = form.elements.body.value.trim();
      if (!body) {
        box.textContent = "请填写消息 Write the message first";
        box.hidden = false;
        return;
      }
      try {
        await ewallApi("POST", `/supervisees/${person}/messages`, { body });
      } catch (error) {
        box.textContent = error.message;
        box.hidden = false;
        return;
      }
      form.reset();
      await loadMessages();
    });
  }
  loadLinks();
  loadMessages();
})();
