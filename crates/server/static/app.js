// The chat page: streams answers from /v1/chat/completions, shows the thinking in a block that
// is open while it streams and folds when the answer starts, and keeps conversations on the
// server (SQLite) when it has a database, in this page's memory otherwise.
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { history: false, model: "", conversations: [], current: null, messages: [], controller: null, nextLocalId: 1 };

  function headers() {
    const h = { "Content-Type": "application/json" };
    const key = $("api_key").value.trim();
    if (key) h["Authorization"] = "Bearer " + key;
    return h;
  }
  async function api(method, path, body) {
    const r = await fetch(path, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
    return data;
  }

  // ---- conversations ----
  async function loadConversations() {
    if (state.history) state.conversations = (await api("GET", "/api/conversations")).data;
    renderConversations();
  }
  function renderConversations() {
    const ul = $("conversations");
    ul.innerHTML = "";
    for (const c of state.conversations) {
      const li = document.createElement("li");
      li.dataset.id = c.id;
      if (state.current === c.id) li.classList.add("active");
      const t = document.createElement("span");
      t.className = "title";
      t.textContent = c.title;
      t.onclick = () => openConversation(c.id);
      const ren = document.createElement("button");
      ren.textContent = "✎"; ren.title = "Rename"; ren.className = "rename";
      ren.onclick = () => renameConversation(c.id);
      const del = document.createElement("button");
      del.textContent = "✕"; del.title = "Delete"; del.className = "delete";
      del.onclick = () => deleteConversation(c.id);
      li.append(t, ren, del);
      ul.appendChild(li);
    }
  }
  async function openConversation(id) {
    if (state.controller) return;
    state.current = id;
    const c = state.conversations.find((x) => x.id === id);
    if (state.history) state.messages = (await api("GET", "/api/conversations/" + id)).messages;
    else state.messages = c ? c.messages : [];
    renderMessages();
    renderConversations();
  }
  async function renameConversation(id) {
    const c = state.conversations.find((x) => x.id === id);
    const title = prompt("Rename conversation", c ? c.title : "");
    if (!title) return;
    if (state.history) await api("PATCH", "/api/conversations/" + id, { title });
    if (c) c.title = title;
    renderConversations();
  }
  async function deleteConversation(id) {
    if (!confirm("Delete this conversation?")) return;
    if (state.history) await api("DELETE", "/api/conversations/" + id);
    state.conversations = state.conversations.filter((x) => x.id !== id);
    if (state.current === id) { state.current = null; state.messages = []; renderMessages(); }
    renderConversations();
  }
  async function ensureConversation(firstMessage) {
    if (state.current !== null) return;
    const title = firstMessage.slice(0, 40) || "New chat";
    let c;
    if (state.history) c = await api("POST", "/api/conversations", { title });
    else c = { id: state.nextLocalId++, title, messages: state.messages };
    state.conversations.unshift(c);
    state.current = c.id;
    renderConversations();
  }
  async function saveMessage(m) {
    if (state.history && state.current !== null) await api("POST", "/api/conversations/" + state.current + "/messages", m);
  }

  // ---- messages ----
  function thinkingSummary(m, streaming) {
    const secs = ((m.thinking_ms || 0) / 1000).toFixed(1);
    const toks = m.reasoning_tokens != null ? m.reasoning_tokens + " tokens, " : "";
    return (streaming ? "Thinking… " : "Thought ") + "(" + toks + secs + " s)";
  }
  function messageView(m) {
    const div = document.createElement("div");
    div.className = "msg " + m.role;
    const role = document.createElement("div");
    role.className = "role";
    role.textContent = m.role === "user" ? "You" : state.model || "assistant";
    div.appendChild(role);
    let details = null, reasoning = null, summary = null;
    if (m.role === "assistant") {
      details = document.createElement("details");
      details.className = "thinking";
      summary = document.createElement("summary");
      reasoning = document.createElement("div");
      reasoning.className = "reasoning";
      details.append(summary, reasoning);
      div.appendChild(details);
    }
    const answer = document.createElement("div");
    answer.className = "answer";
    div.appendChild(answer);
    const view = {
      div,
      update(streaming) {
        if (details) {
          details.hidden = !m.reasoning;
          reasoning.textContent = m.reasoning || "";
          summary.textContent = thinkingSummary(m, streaming && !m.content);
        }
        if (m.role === "assistant") window.renderMarkdownInto(answer, m.content || "");
        else answer.textContent = m.content;
      },
      details,
    };
    view.update(false);
    return view;
  }
  function renderMessages() {
    const box = $("messages");
    box.innerHTML = "";
    for (const m of state.messages) box.appendChild(messageView(m).div);
    box.scrollTop = box.scrollHeight;
  }

  function setBusy(busy) {
    $("send").hidden = busy;
    $("stop").hidden = !busy;
  }
  function num(id) {
    const v = $(id).value.trim();
    return v === "" ? undefined : Number(v);
  }

  async function send(text) {
    await ensureConversation(text);
    const user = { role: "user", content: text };
    state.messages.push(user);
    $("messages").appendChild(messageView(user).div);
    await saveMessage(user);
    const sys = $("system").value.trim();
    const body = {
      model: state.model,
      messages: (sys ? [{ role: "system", content: sys }] : []).concat(state.messages.map((m) => ({ role: m.role, content: m.content }))),
      stream: true,
      stream_options: { include_usage: true },
      temperature: num("temperature"),
      top_p: num("top_p"),
      max_tokens: num("max_tokens"),
      thinking_budget_tokens: num("thinking_budget"),
      seed: num("seed"),
    };
    const m = { role: "assistant", content: "", reasoning: "", reasoning_tokens: 0, thinking_ms: 0 };
    state.messages.push(m);
    const view = messageView(m);
    view.details.open = true;
    $("messages").appendChild(view.div);
    const started = performance.now();
    let thinkingEnd = null;
    state.controller = new AbortController();
    setBusy(true);
    try {
      const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: state.controller.signal });
      if (!r.ok) {
        const e = await r.json().catch(() => ({}));
        throw new Error((e.error && e.error.message) || r.statusText);
      }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            const chunk = JSON.parse(data);
            if (chunk.error) throw new Error(chunk.error.message);
            if (chunk.usage) m.reasoning_tokens = chunk.usage.completion_tokens_details.reasoning_tokens;
            for (const c of chunk.choices || []) {
              const d = c.delta || {};
              if (d.reasoning_content) { m.reasoning += d.reasoning_content; m.reasoning_tokens++; m.thinking_ms = Math.round(performance.now() - started); }
              if (d.content) {
                if (thinkingEnd === null) { thinkingEnd = performance.now(); view.details.open = false; }
                m.content += d.content;
              }
            }
          }
          view.update(true);
          $("messages").scrollTop = $("messages").scrollHeight;
        }
      }
    } catch (e) {
      if (e.name !== "AbortError") {
        const err = document.createElement("div");
        err.className = "error";
        err.textContent = "Error: " + e.message;
        view.div.appendChild(err);
      }
    } finally {
      state.controller = null;
      setBusy(false);
      if (m.reasoning && m.content) view.details.open = false;
      view.update(false);
      view.div.dataset.done = "1";
      await saveMessage(m).catch(() => {});
    }
  }

  $("composer").onsubmit = (ev) => {
    ev.preventDefault();
    const text = $("input").value.trim();
    if (!text || state.controller) return;
    $("input").value = "";
    send(text);
  };
  $("input").onkeydown = (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
  };
  $("stop").onclick = () => { if (state.controller) state.controller.abort(); };
  $("new-chat").onclick = () => {
    if (state.controller) return;
    state.current = null; state.messages = []; renderMessages(); renderConversations();
  };
  $("settings-toggle").onclick = () => { $("settings").hidden = !$("settings").hidden; };

  (async function init() {
    try {
      const cfg = await (await fetch("/api/config")).json();
      state.history = cfg.history;
      state.model = cfg.model;
      $("model-name").textContent = cfg.model;
      $("storage-note").textContent = cfg.history ? "Conversations are saved on the server." : "Conversations live in this page only (the server has no database).";
      await loadConversations();
      document.body.dataset.ready = "1";
    } catch (e) {
      $("storage-note").textContent = "Could not reach the server: " + e.message;
    }
  })();
})();
