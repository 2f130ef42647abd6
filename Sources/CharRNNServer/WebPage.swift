/// The page served at `/`: one self-contained file (no CDN, no build step) that talks to the JSON API.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>charrnn</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --accent: #3553d6; --bad: #b42318; --bg: #fafbfc; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  main { max-width: 860px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  p.lead { margin: 0 0 16px; color: var(--muted); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin-bottom: 16px; }
  h2 { font-size: 1.05rem; margin: 0 0 10px; }
  label { display: block; font-size: .85rem; color: var(--muted); margin-bottom: 3px; }
  select, input, textarea, button { font: inherit; }
  select, input, textarea { width: 100%; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
  textarea { min-height: 84px; resize: vertical; font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
  .row { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 10px; }
  .row > div { flex: 1 1 120px; min-width: 0; }
  .row > div.wide { flex: 3 1 220px; }
  button { padding: 9px 18px; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: var(--accent); }
  button:disabled { opacity: .5; cursor: default; }
  #output { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, "SFMono-Regular", Menlo, monospace;
            min-height: 120px; padding: 10px; border: 1px dashed var(--line); border-radius: 8px; margin-top: 10px; }
  #output .prime { color: var(--muted); }
  .status { font-size: .85rem; color: var(--muted); margin-top: 6px; min-height: 1.2em; }
  .error { color: var(--bad); font-weight: 600; }
  .bars { margin-top: 10px; }
  .bar { display: grid; grid-template-columns: minmax(90px, 160px) 1fr 56px; gap: 8px; align-items: center; margin: 4px 0; font-size: .9rem; }
  .bar .track { background: #eef1f6; border-radius: 4px; height: 14px; overflow: hidden; }
  .bar .fill { background: var(--accent); height: 100%; }
  .bar .p { text-align: right; font-variant-numeric: tabular-nums; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
  <h1>charrnn</h1>
  <p class="lead">Character-level language models: type the beginning of a text and let a model finish it.</p>
  <p id="error" class="error" role="alert" hidden></p>

  <section id="generate-section" hidden>
    <h2>Generate</h2>
    <div class="row">
      <div class="wide"><label for="model">Model</label><select id="model"></select></div>
      <div id="category-box" hidden><label for="category">Category</label><select id="category"></select></div>
    </div>
    <label for="prime">Prime text</label>
    <textarea id="prime" placeholder="The beginning of a poem or a line"></textarea>
    <div class="row" style="margin-top:10px">
      <div><label for="length">Length</label><input id="length" type="number" min="1" value="300"></div>
      <div><label for="temperature">Temperature</label><input id="temperature" type="number" min="0.05" step="0.05" value="0.8"></div>
      <div><label for="topk">Top-k (0: all)</label><input id="topk" type="number" min="0" value="0"></div>
      <div><label for="topp">Top-p (1: all)</label><input id="topp" type="number" min="0.01" max="1" step="0.05" value="1"></div>
      <div><label for="presence">Repeat penalty</label><input id="presence" type="number" min="-2" max="2" step="0.1" value="0"></div>
      <div><label for="seed">Seed (empty: random)</label><input id="seed" type="number" min="0" placeholder="random"></div>
    </div>
    <button id="generate">Generate</button>
    <button id="stop" class="secondary" disabled>Stop</button>
    <div id="output" aria-live="polite"></div>
    <div id="gen-status" class="status"></div>
  </section>

  <section id="classify-section" hidden>
    <h2>Classify</h2>
    <div class="row">
      <div><label for="classifier">Model</label><select id="classifier"></select></div>
      <div class="wide"><label for="item">Text (for example a surname)</label><input id="item" autocomplete="off" placeholder="Dovesky"></div>
    </div>
    <div id="bars" class="bars"></div>
    <div id="cls-status" class="status"></div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let models = [];
let controller = null;

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// A server started with --api-key asks for it once; the page keeps it for this tab only.
async function api(path, init) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const key = sessionStorage.getItem("charrnn-api-key");
    const headers = Object.assign({}, (init && init.headers) || {}, key ? { Authorization: "Bearer " + key } : {});
    const response = await fetch(path, Object.assign({}, init || {}, { headers }));
    if (response.status !== 401 || attempt > 0) return response;
    const given = prompt("This server needs its API key (charrnn serve --api-key):");
    if (!given) return response;
    sessionStorage.setItem("charrnn-api-key", given.trim());
  }
}

async function apiError(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {}
  return "request failed: HTTP " + response.status;
}

async function loadModels() {
  try {
    const response = await api("/v1/models");
    if (!response.ok) throw new Error(await apiError(response));
    models = (await response.json()).models;
  } catch (e) {
    showError("Could not load the models: " + e.message);
    return;
  }
  const generators = models.filter((m) => m.kind === "generator");
  const classifiers = models.filter((m) => m.kind === "classifier");
  fill($("model"), generators);
  fill($("classifier"), classifiers);
  $("generate-section").hidden = generators.length === 0;
  $("classify-section").hidden = classifiers.length === 0;
  updateCategories();
}

function fill(select, list) {
  select.innerHTML = "";
  for (const m of list) {
    const option = document.createElement("option");
    option.value = m.name;
    const loss = m.validation_loss ?? m.training_loss;
    option.textContent = m.name + " (" + m.cell + " " + m.layers + "x" + m.hidden +
      (loss != null ? ", loss " + loss.toFixed(3) : "") + ")";
    select.appendChild(option);
  }
}

function updateCategories() {
  const m = models.find((x) => x.name === $("model").value);
  const cats = (m && m.categories) || [];
  $("category-box").hidden = cats.length === 0;
  const select = $("category");
  select.innerHTML = "";
  for (const c of cats) {
    const option = document.createElement("option");
    option.value = option.textContent = c;
    select.appendChild(option);
  }
}

async function generate() {
  showError("");
  const output = $("output");
  output.textContent = "";
  const prime = $("prime").value;
  const m = models.find((x) => x.name === $("model").value);
  const primeSpan = document.createElement("span");
  primeSpan.className = "prime";
  // With no prime the model starts from its corpus's first character: show it, as the CLI does.
  primeSpan.textContent = prime || (m && !m.names_mode && m.start_character) || "";
  const generated = document.createTextNode("");
  output.append(primeSpan, generated);
  const body = {
    model: $("model").value,
    prompt: prime,
    length: parseInt($("length").value, 10) || 0,
    temperature: parseFloat($("temperature").value),
    stream: true,
  };
  const k = parseInt($("topk").value, 10);
  if (k > 0) body.top_k = k;
  const topP = parseFloat($("topp").value);
  if (topP > 0 && topP < 1) body.top_p = topP;
  const presence = parseFloat($("presence").value);
  if (presence) body.presence_penalty = presence;
  if ($("seed").value !== "") body.seed = parseInt($("seed").value, 10);
  if (!$("category-box").hidden) body.category = $("category").value;

  controller = new AbortController();
  $("generate").disabled = true;
  $("stop").disabled = false;
  $("gen-status").textContent = "generating...";
  try {
    const response = await api("/v1/generate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) throw new Error(await apiError(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        handleEvent(buffer.slice(0, cut), generated);
        buffer = buffer.slice(cut + 2);
      }
    }
  } catch (e) {
    if (e.name === "AbortError") $("gen-status").textContent = "stopped";
    else { showError(e.message); $("gen-status").textContent = ""; }
  } finally {
    controller = null;
    $("generate").disabled = false;
    $("stop").disabled = true;
  }
}

function handleEvent(block, generated) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  const payload = JSON.parse(data);
  if (name === "message") generated.appendData(payload.text);
  else if (name === "done") {
    const rate = payload.ms > 0 ? Math.round(payload.tokens / payload.ms * 1000) : 0;
    $("gen-status").textContent = payload.tokens + " characters in " + Math.round(payload.ms) + " ms (" + rate +
      " chars/s), ended by " + payload.finish_reason + ", seed " + payload.seed;
  } else if (name === "error") showError(payload.message);
}

let classifyTimer = null;
let classifySerial = 0;
function scheduleClassify() {
  clearTimeout(classifyTimer);
  classifyTimer = setTimeout(classify, 120);
}

async function classify() {
  const text = $("item").value.trim();
  const serial = ++classifySerial;
  if (!text) { $("bars").innerHTML = ""; $("cls-status").textContent = ""; return; }
  try {
    const response = await api("/v1/classify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: $("classifier").value, items: [text], top: 5 }),
    });
    if (!response.ok) throw new Error(await apiError(response));
    const reply = await response.json();
    if (serial !== classifySerial) return;  // a newer keystroke already asked
    showError("");
    const bars = $("bars");
    bars.innerHTML = "";
    for (const c of reply.results[0].categories) {
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.textContent = c.category;
      const track = document.createElement("div");
      track.className = "track";
      const fill = document.createElement("div");
      fill.className = "fill";
      fill.style.width = (c.probability * 100).toFixed(1) + "%";
      track.appendChild(fill);
      const p = document.createElement("span");
      p.className = "p";
      p.textContent = (c.probability * 100).toFixed(1) + "%";
      row.append(name, track, p);
      bars.appendChild(row);
    }
    $("cls-status").textContent = Math.round(reply.ms) + " ms";
  } catch (e) {
    if (serial === classifySerial) showError(e.message);
  }
}

$("generate").addEventListener("click", generate);
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("model").addEventListener("change", updateCategories);
$("item").addEventListener("input", scheduleClassify);
$("classifier").addEventListener("change", scheduleClassify);
$("prime").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(); });
loadModels();
</script>
</body>
</html>
"""#
}
