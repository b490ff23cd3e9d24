// The chat page GET / serves (as llama-server has one): a self-contained HTML file — no external scripts,
// styles or fonts — that streams /v1/chat/completions from the same origin. It is a string in a module
// rather than an .html file so that it ships in the compiled dist/ as well as in src/. Model output is put
// in the page as text (textContent), never as HTML.

/** The Content-Security-Policy sent with the page: its own inline script and style, requests to its origin. */
export const CHAT_PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

export function chatPage(modelId: string): string {
  const title = modelId.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · deepseek-webgpu</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 0 auto; padding: 1rem; color: #222; }
  header { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 1.1rem; margin: 0 auto 0 0; }
  #log { margin: 1rem 0; }
  .msg { white-space: pre-wrap; padding: .5rem .75rem; margin: .5rem 0; border-radius: .4rem; }
  .user { background: #e8f0fe; }
  .assistant { background: #f4f4f4; }
  .reasoning { color: #888; font-style: italic; }
  .error { color: #b00020; }
  form { display: flex; gap: .5rem; }
  textarea { flex: 1; font: inherit; min-height: 3rem; }
  small { color: #666; }
</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" placeholder="model's" size="6"></label>
  <label>max tokens <input id="max-tokens" type="number" min="1" step="1" placeholder="model's" size="6"></label>
  <label>API key <input id="api-key" type="password" size="10" autocomplete="off"></label>
  <button id="clear" type="button">New chat</button>
</header>
<div id="log"></div>
<form id="chat">
  <textarea id="prompt" placeholder="Message (Enter sends, Shift+Enter a new line)" required></textarea>
  <button id="send" type="submit">Send</button>
  <button id="stop" type="button" hidden>Stop</button>
</form>
<small id="status"></small>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const messages = [];
let controller = null;

function bubble(cls) {
  const div = document.createElement("div");
  div.className = "msg " + cls;
  $("log").append(div);
  return div;
}

function number(id) {
  const v = $(id).value;
  return v === "" ? undefined : Number(v);
}

// One chat.completion.chunk: reasoning goes to the dimmed span, content after it.
function apply(chunk, reasoning, content) {
  const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
  if (delta.reasoning_content) reasoning.textContent += delta.reasoning_content;
  if (delta.content) content.textContent += delta.content;
  if (chunk.error) throw new Error(chunk.error.message);
}

async function send(text) {
  messages.push({ role: "user", content: text });
  bubble("user").textContent = text;
  const box = bubble("assistant");
  const reasoning = document.createElement("div");
  reasoning.className = "reasoning";
  const content = document.createElement("span");
  box.append(reasoning, content);
  controller = new AbortController();
  $("send").hidden = true;
  $("stop").hidden = false;
  const t0 = performance.now();
  let pieces = 0;
  try {
    const headers = { "content-type": "application/json" };
    if ($("api-key").value) headers.authorization = "Bearer " + $("api-key").value;
    const body = { messages, stream: true, temperature: number("temperature"), max_tokens: number("max-tokens") };
    const res = await fetch("/v1/chat/completions", { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
    if (!res.ok) throw new Error((await res.json()).error.message);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const events = buffer.split("\\n\\n");
      buffer = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") continue;
        apply(JSON.parse(data), reasoning, content);
        pieces++;
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") bubble("error").textContent = String(e.message || e);
  } finally {
    messages.push({ role: "assistant", content: content.textContent });
    $("status").textContent = pieces + " chunks in " + ((performance.now() - t0) / 1000).toFixed(1) + " s";
    controller = null;
    $("send").hidden = false;
    $("stop").hidden = true;
  }
}

$("chat").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || controller) return;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("chat").requestSubmit();
  }
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("clear").addEventListener("click", () => {
  if (controller) controller.abort();
  messages.length = 0;
  $("log").textContent = "";
  $("status").textContent = "";
});
</script>
</body>
</html>
`;
}
