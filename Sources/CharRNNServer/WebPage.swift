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
  .status { font-size: .85rem; color: var(--muted); margin-top: 6px; min-height: 1.2em; }
  .error { color: var(--bad); font-weight: 600; }
  .bars { margin-top: 10px; }
  .bar { display: grid; grid-template-columns: minmax(90px, 160px) 1fr 56px; gap: 8px; align-items: center; margin: 4px 0; font-size: .9rem; }
  .bar .track { background: #eef1f6; border-radius: 4px; height: 14px; overflow: hidden; }
  .bar .fill { background: var(--accent); height: 100%; }
  .bar .p { text-align: right; font-variant-numeric: tabular-nums; }
  .hint { font-size: .8rem; color: var(--muted); margin-left: 8px; }
  .check { display: flex; align-items: center; gap: 6px; margin-top: 24px; font-size: .9rem; color: var(--fg); }
  .check input { width: auto; }
  .examples { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0 10px; min-height: 1.6em; align-items: center; }
  .examples .chip { padding: 3px 10px; border-radius: 14px; border: 1px solid var(--line); background: #fff; color: var(--fg);
                    font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85rem; }
  .sample { position: relative; white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, "SFMono-Regular", Menlo, monospace;
            padding: 10px 10px 10px 10px; border: 1px dashed var(--line); border-radius: 8px; margin-top: 10px; min-height: 3em; }
  .sample .prime { color: var(--muted); }
  .sample .copy { position: absolute; top: 6px; right: 6px; padding: 2px 10px; font-size: .8rem; font-family: system-ui, sans-serif; }
  .sample .meta { display: block; margin-top: 6px; font: .8rem system-ui, sans-serif; color: var(--muted); }
  .status.error, .field-error { color: var(--bad); font-weight: 600; }
  @media (max-width: 520px) { #shortcut { display: none; } }  /* a phone has no Ctrl key */
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
    <textarea id="prime" placeholder="The beginning of a text"></textarea>
    <div id="examples" class="examples" aria-label="Example primes"></div>
    <div class="row">
      <div><label for="length">Length</label><input id="length" type="number" min="1" value="300"></div>
      <div><label for="count">Samples</label><input id="count" type="number" min="1" max="8" value="1"></div>
      <div><label for="temperature">Temperature</label><input id="temperature" type="number" min="0.05" step="0.05" value="0.8"></div>
      <div><label for="topk">Top-k (0: all)</label><input id="topk" type="number" min="0" value="0"></div>
      <div><label for="topp">Top-p (1: all)</label><input id="topp" type="number" min="0.01" max="1" step="0.05" value="1"></div>
    </div>
    <div class="row">
      <div><label for="presence">Repeat penalty</label><input id="presence" type="number" min="-2" max="2" step="0.1" value="0"></div>
      <div><label for="stop-text">Stop at (\n: a new line)</label><input id="stop-text" placeholder="none" autocomplete="off"></div>
      <div><label for="seed">Seed (empty: random)</label><input id="seed" type="number" min="0" placeholder="random"></div>
      <div><label class="check"><input id="greedy" type="checkbox"> Greedy (most likely)</label></div>
    </div>
    <button id="generate">Generate</button>
    <button id="stop" class="secondary" disabled>Stop</button>
    <span id="shortcut" class="hint">or Ctrl+Enter in the prime</span>
    <div id="output" aria-live="polite"></div>
    <div id="gen-status" class="status" role="status"></div>
  </section>

  <section id="classify-section" hidden>
    <h2>Classify</h2>
    <div class="row">
      <div><label for="classifier">Model</label><select id="classifier"></select></div>
      <div class="wide"><label for="item">Text (for example a surname)</label><input id="item" autocomplete="off" placeholder="Dovesky"></div>
    </div>
    <div id="cls-status" class="status" role="status"></div>
    <div id="bars" class="bars"></div>
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
  modelChanged();
}

function fill(select, list) {
  select.innerHTML = "";
  for (const m of list) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.name + " (" + m.cell + " " + m.layers + "x" + m.hidden + quality(m) + ")";
    select.appendChild(option);
  }
}

// The loss as a reader can weigh it: bits per character and perplexity (nats in the API).
function quality(m) {
  const nats = m.validation_loss ?? m.training_loss;
  if (nats == null || m.kind !== "generator") return "";
  const which = m.validation_loss != null ? "validation" : "training";
  return "; " + which + ": " + (nats / Math.LN2).toFixed(2) + " bits/char, perplexity " + Math.exp(nats).toFixed(2);
}

function setStatus(id, message, isError) {
  const box = $(id);
  box.textContent = message;
  box.classList.toggle("error", !!isError);
}

// Example primes the model itself suggests: a few first letters of names it would generate, or the
// first lines of texts it would write (a verse model's speakers).
let examplesSerial = 0;
async function loadExamples() {
  const serial = ++examplesSerial;
  const box = $("examples");
  box.innerHTML = "";
  const m = models.find((x) => x.name === $("model").value);
  if (!m) return;
  const body = (seed) => ({ model: m.name, prompt: "", length: m.names_mode ? 12 : 28, temperature: 0.7, seed, stop: "\n",
                            category: !$("category-box").hidden ? $("category").value : undefined });
  const found = [];
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    if (found.length === 3) break;
    try {
      const response = await api("/v1/generate", { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify(body(seed)) });
      if (!response.ok || serial !== examplesSerial) return;
      const reply = await response.json();
      let line = (m.names_mode ? "" : (m.start_character || "")) + reply.text;
      line = line.split("\n").filter((x) => x.trim())[0] || "";
      let example;
      if (m.names_mode) example = { show: line.slice(0, 1), prime: line.slice(0, 1) };
      else if (reply.finish_reason === "stop" && line.length <= 24) example = { show: line, prime: line + "\n" };
      else {
        const cut = line.slice(0, 24).lastIndexOf(" ");
        const words = cut > 3 ? line.slice(0, cut) : line.slice(0, 16);
        example = { show: words, prime: words + " " };
      }
      if (example.show.trim() && !found.some((e) => e.show === example.show)) found.push(example);
    } catch (_) { return; }
  }
  if (serial !== examplesSerial) return;
  if (found.length) {
    const label = document.createElement("span");
    label.className = "hint";
    label.style.marginLeft = "0";
    label.textContent = "Try:";
    box.appendChild(label);
  }
  for (const e of found) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.textContent = e.show;
    chip.title = "Use as the prime";
    chip.addEventListener("click", () => { $("prime").value = e.prime; $("prime").focus(); });
    box.appendChild(chip);
  }
}

function modelChanged() {
  updateCategories();
  loadExamples();
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

function samplingBody() {
  const body = {
    model: $("model").value,
    prompt: $("prime").value,
    length: parseInt($("length").value, 10) || 0,
    temperature: parseFloat($("temperature").value),
    stream: true,
  };
  if ($("greedy").checked) body.greedy = true;
  const k = parseInt($("topk").value, 10);
  if (k > 0) body.top_k = k;
  const topP = parseFloat($("topp").value);
  if (topP > 0 && topP < 1) body.top_p = topP;
  const presence = parseFloat($("presence").value);
  if (presence) body.presence_penalty = presence;
  const stop = $("stop-text").value.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
  if (stop) body.stop = stop;
  if ($("seed").value !== "") body.seed = parseInt($("seed").value, 10);
  if (!$("category-box").hidden) body.category = $("category").value;
  return body;
}

// One box per sample: the prime (muted), the streamed text, a copy button and the sample's own line.
function sampleBox(prime) {
  const box = document.createElement("div");
  box.className = "sample";
  const primeSpan = document.createElement("span");
  primeSpan.className = "prime";
  primeSpan.textContent = prime;
  const text = document.createTextNode("");
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "secondary copy";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    const all = primeSpan.textContent + text.data;
    try { await navigator.clipboard.writeText(all); copy.textContent = "Copied"; }
    catch (_) {
      const range = document.createRange();
      range.selectNodeContents(box);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copy.textContent = "Selected: Ctrl+C";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  const meta = document.createElement("span");
  meta.className = "meta";
  box.append(copy, primeSpan, text, meta);
  $("output").appendChild(box);
  return { text, meta };
}

async function generate() {
  if (controller) return;
  showError("");
  setStatus("gen-status", "");
  $("output").innerHTML = "";
  const m = models.find((x) => x.name === $("model").value);
  const count = Math.min(8, Math.max(1, parseInt($("count").value, 10) || 1));
  const base = samplingBody();
  // With no prime the model starts from its corpus's first character: show it, as the CLI does.
  const shownPrime = base.prompt || (m && !m.names_mode && m.start_character) || "";
  controller = new AbortController();
  $("generate").disabled = true;
  $("stop").disabled = false;
  setStatus("gen-status", count > 1 ? "generating " + count + " samples..." : "generating...");
  const started = performance.now();
  let characters = 0, failure = null;
  const runs = [];
  for (let i = 0; i < count; i++) {
    const body = Object.assign({}, base);
    // Several samples from one seed would be one sample: each takes the next seed.
    if (body.seed != null) body.seed += i;
    const box = sampleBox(shownPrime);
    runs.push(stream(body, box).then((n) => { characters += n; }, (e) => { if (e.name !== "AbortError") failure = failure || e; }));
  }
  await Promise.all(runs);
  const aborted = controller.signal.aborted;
  controller = null;
  $("generate").disabled = false;
  $("stop").disabled = true;
  if (failure) setStatus("gen-status", failure.message, true);
  else if (aborted) setStatus("gen-status", "stopped");
  else if (count > 1) {
    const ms = performance.now() - started;
    setStatus("gen-status", count + " samples, " + characters + " characters in " + Math.round(ms) + " ms");
  }
}

async function stream(body, box) {
  const response = await api("/v1/generate", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body), signal: controller.signal,
  });
  if (!response.ok) throw new Error(await apiError(response));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", characters = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      characters = handleEvent(buffer.slice(0, cut), box, body) ?? characters;
      buffer = buffer.slice(cut + 2);
    }
  }
  return characters;
}

function handleEvent(block, box, body) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  const payload = JSON.parse(data);
  if (name === "message") box.text.appendData(payload.text);
  else if (name === "done") {
    const rate = payload.ms > 0 ? Math.round(payload.tokens / payload.ms * 1000) : 0;
    const line = payload.tokens + " characters in " + Math.round(payload.ms) + " ms (" + rate + " chars/s), ended by " +
      payload.finish_reason + ", seed " + payload.seed;
    box.meta.textContent = line;
    return payload.tokens;
  } else if (name === "error") throw new Error(payload.message);
  return null;
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
  if (!text) { $("bars").innerHTML = ""; setStatus("cls-status", ""); return; }
  try {
    const response = await api("/v1/classify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: $("classifier").value, items: [text], top: 5 }),
    });
    if (!response.ok) throw new Error(await apiError(response));
    const reply = await response.json();
    if (serial !== classifySerial) return;  // a newer keystroke already asked
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
    setStatus("cls-status", Math.round(reply.ms) + " ms");
  } catch (e) {
    // Beside the box it concerns, and no earlier name's result left under it.
    if (serial === classifySerial) { $("bars").innerHTML = ""; setStatus("cls-status", e.message, true); }
  }
}

$("generate").addEventListener("click", generate);
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("model").addEventListener("change", modelChanged);
$("category").addEventListener("change", loadExamples);
if (/Mac|iPhone|iPad/.test(navigator.platform)) $("shortcut").textContent = "or \u2318+Enter in the prime";
$("item").addEventListener("input", scheduleClassify);
$("classifier").addEventListener("change", scheduleClassify);
$("prime").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(); });
loadModels();
</script>
</body>
</html>
"""#
}
