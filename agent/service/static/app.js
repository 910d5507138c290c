// The chat page: talks to the builder's own API and follows builds live over SSE.
"use strict";
const STAGES = ["received", "decoded", "generating", "validated", "written", "integrated",
  "tested", "verified", "committed", "pr_opened", "requeued", "done", "failed"];
const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("message");
let chatId = sessionStorage.getItem("petsage-chat");
// A service with PETSAGE_API_TOKENS: open the page as /?token=... once; it is kept for the tab
// (sessionStorage) and taken out of the address bar and history at once.
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("petsage-token", params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
}
const token = sessionStorage.getItem("petsage-token");

function add(role, text) {
  const item = document.createElement("li");
  item.className = role;
  item.textContent = text;
  log.appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1${path}`, { headers, ...options });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

async function ensureChat() {
  if (!chatId) {
    chatId = (await api("/chats", { method: "POST" })).id;
    sessionStorage.setItem("petsage-chat", chatId);
  }
  return chatId;
}

function follow(buildId) {
  const panel = add("build", `Build ${buildId}`);
  const stages = document.createElement("ul");
  stages.className = "stages";
  panel.appendChild(stages);
  // fetch, not EventSource: the token goes in a header, never in a URL.
  streamEvents(buildId, (stage, data) => {
    if (!STAGES.includes(stage)) return;
    const chip = document.createElement("li");
    chip.textContent = data.round ? `${stage} (${data.round})` : stage;
    if (!data.ok) chip.className = "bad";
    chip.title = data.message;
    stages.appendChild(chip);
  }).then(() => showResult(panel, buildId)).then(showPulls)
    .catch((error) => add("assistant error", `The build stream broke: ${error.message}`));
}

// Read a build's Server-Sent Events until the stream ends (it ends after the final event).
async function streamEvents(buildId, onEvent) {
  const headers = { accept: "text/event-stream" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1/builds/${buildId}/events`, { headers });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let stage = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) stage = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(stage, JSON.parse(data.join("\n")));
    }
  }
}

async function showResult(panel, buildId) {
  const result = await api(`/builds/${buildId}`);
  const status = document.createElement("p");
  status.className = `status ${result.status}`;
  status.textContent = result.status;
  panel.appendChild(status);
  const files = result.files.length ? result.files : (result.attempt ? result.attempt.files.map((f) => f.path) : []);
  const facts = document.createElement("p");
  facts.textContent = `Tests: ${result.tests.passed} passed, ${result.tests.failed} failed.` +
    (result.reasons.length ? `\n${result.reasons.join("\n")}` : "");
  panel.appendChild(facts);
  if (files.length) {
    const tree = document.createElement("pre");
    tree.className = "files";
    tree.textContent = files.join("\n");
    panel.appendChild(tree);
  }
  try {
    const diff = document.createElement("pre");
    diff.textContent = await api(`/builds/${buildId}/diff`);
    panel.appendChild(diff);
  } catch (error) { /* a build that wrote nothing has no diff */ }
  panel.scrollIntoView({ block: "end" });
}

// Each local pull request with its state against its base, as `petsage-builder pr list` shows it.
const SYNC_WORDS = { up_to_date: "up to date", behind: "behind", needs_rebuild: "needs rebuild" };
async function showPulls() {
  const list = document.getElementById("pulls");
  try {
    const pulls = await api("/pulls");
    list.replaceChildren(...pulls.map((pull) => {
      const item = document.createElement("li");
      const state = pull.state === "open" ? SYNC_WORDS[pull.sync] || pull.state : pull.state;
      item.className = `pull ${pull.sync || pull.state}`;
      item.textContent = `${pull.id} ${pull.branch} → ${pull.base}: ${state}`;
      if (pull.needs_rebuild) item.title = pull.needs_rebuild;
      return item;
    }));
  } catch (error) {
    list.replaceChildren();
  }
}

async function send(text) {
  add("user", text);
  try {
    const id = await ensureChat();
    const reply = await api(`/chats/${id}/messages`, { method: "POST", body: JSON.stringify({ content: text }) });
    add("assistant", reply.reply);
    if (reply.build_id) follow(reply.build_id);
  } catch (error) {
    add("assistant error", `Something went wrong: ${error.message}`);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
input.focus();
showPulls();
