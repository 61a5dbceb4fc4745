"use strict";
// facerec web page: identify the faces of a photo, enroll one under a name, manage persons.
const $ = (id) => document.getElementById(id);
const state = { file: null, faces: [], selected: 0, persons: [] };

function apiKey() { return $("apikey").value.trim(); }
$("apikey").value = localStorage.getItem("facerec-api-key") || "";
$("apikey").addEventListener("change", () => { localStorage.setItem("facerec-api-key", apiKey()); refreshPersons(); });

async function api(method, path, body) {
  const headers = {};
  if (apiKey()) headers["X-API-Key"] = apiKey();
  if (body && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; body = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return data;
}

function say(text, ok) { const m = $("message"); m.textContent = text || ""; m.className = "message" + (ok ? " ok" : ""); }

function imageForm(extra) {
  const fd = new FormData();
  fd.append("image", state.file, state.file.name || "photo.jpg");
  for (const [k, v] of Object.entries(extra || {})) fd.append(k, v);
  return fd;
}

async function identify() {
  if (!state.file) return;
  say("identifying…", true);
  try {
    const res = await api("POST", "/v1/identify", imageForm());
    state.faces = res.faces;
    state.size = [res.width, res.height];
    if (state.selected >= state.faces.length) state.selected = 0;
    say(res.faces.length ? `${res.faces.length} face(s) found` : "no face found in this photo", res.faces.length > 0);
  } catch (e) {
    state.faces = [];
    say(e.message);
  }
  render();
}

function render() {
  const img = $("photo"), layer = $("boxes"), list = $("faces");
  layer.innerHTML = ""; list.innerHTML = "";
  const [w, h] = state.size || [img.naturalWidth, img.naturalHeight];
  state.faces.forEach((f, i) => {
    const [x1, y1, x2, y2] = f.bbox;
    const known = f.name !== "unknown";
    const text = `${f.name} ${f.similarity.toFixed(2)}`;
    const box = document.createElement("div");
    box.className = "box" + (known ? " known" : "") + (i === state.selected ? " selected" : "");
    box.style.left = `${(100 * x1) / w}%`; box.style.top = `${(100 * y1) / h}%`;
    box.style.width = `${(100 * (x2 - x1)) / w}%`; box.style.height = `${(100 * (y2 - y1)) / h}%`;
    box.dataset.index = i; box.dataset.name = f.name; box.title = text;
    const label = document.createElement("span");
    label.className = "label"; label.textContent = text;
    box.appendChild(label);
    box.addEventListener("click", () => select(i));
    layer.appendChild(box);
    const li = document.createElement("li");
    li.className = "face" + (i === state.selected ? " selected" : "");
    li.dataset.index = i;
    li.textContent = `${f.name} — similarity ${f.similarity.toFixed(3)}`;
    li.addEventListener("click", () => select(i));
    list.appendChild(li);
  });
  $("enroll").hidden = state.faces.length === 0;
  $("enroll-face").textContent = `#${state.selected + 1}`;
}

function select(i) { state.selected = i; render(); $("enroll-name").focus(); }

function show(file) {
  if (!file) return;
  state.file = file; state.faces = []; state.selected = 0; state.size = null;
  const img = $("photo");
  img.onload = () => { $("stage").hidden = false; identify(); };
  img.onerror = () => { $("stage").hidden = true; say("this file is not an image the browser can show"); };
  img.src = URL.createObjectURL(file);
}

$("file").addEventListener("change", (e) => show(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); show(e.dataTransfer.files[0]); });

// Camera: once a second a frame from getUserMedia is identified like a dropped photo.
let camera = null;
$("camera").addEventListener("click", async () => {
  if (camera) {
    clearInterval(camera.timer); camera.stream.getTracks().forEach((t) => t.stop()); camera = null;
    $("camera").textContent = "Use camera"; return;
  }
  if (!navigator.mediaDevices) { say("the camera needs https or localhost"); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    $("video").srcObject = stream; await $("video").play();
    camera = { stream, busy: false, timer: setInterval(cameraFrame, 1000) };
    $("camera").textContent = "Stop camera";
  } catch (e) { say(`camera: ${e.message}`); }
});

async function cameraFrame() {
  const video = $("video"), img = $("photo");
  if (!camera || camera.busy || !video.videoWidth) return;
  camera.busy = true;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  state.file = new File([blob], "camera.jpg", { type: "image/jpeg" });
  img.onload = null; img.src = URL.createObjectURL(blob); $("stage").hidden = false;
  try { await identify(); } finally { if (camera) camera.busy = false; }
}

$("enroll").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("enroll-name").value.trim();
  if (!name || !state.file) return;
  try {
    const existing = state.persons.find((p) => p.name === name);
    const form = imageForm({ face: state.selected });
    if (existing) await api("POST", `/v1/persons/${existing.id}/faces`, form);
    else { form.append("name", name); await api("POST", "/v1/persons", form); }
    $("enroll-name").value = "";
    await refreshPersons();
    await identify();
    say(`enrolled face #${state.selected + 1} as ${name}`, true);
  } catch (err) { say(err.message); }
});

async function refreshPersons() {
  try {
    const res = await api("GET", "/v1/persons");
    state.persons = res.persons;
  } catch (e) { state.persons = []; $("count").textContent = ""; say(e.message); return; }
  $("count").textContent = `(${state.persons.length})`;
  const ul = $("persons"), names = $("names");
  ul.innerHTML = ""; names.innerHTML = "";
  for (const p of state.persons) {
    const li = document.createElement("li");
    li.className = "person"; li.dataset.id = p.id; li.dataset.name = p.name;
    const span = document.createElement("span");
    span.className = "name"; span.textContent = `${p.name} (${p.faces})`;
    const ren = document.createElement("button"); ren.textContent = "Rename"; ren.className = "rename";
    const del = document.createElement("button"); del.textContent = "Delete"; del.className = "danger delete";
    ren.addEventListener("click", () => startRename(li, p));
    del.addEventListener("click", async () => {
      try { await api("DELETE", `/v1/persons/${p.id}`); say(`deleted ${p.name}`, true); } catch (e) { say(e.message); }
      await refreshPersons(); await identify();
    });
    li.append(span, ren, del); ul.appendChild(li);
    const opt = document.createElement("option"); opt.value = p.name; names.appendChild(opt);
  }
}

function startRename(li, p) {
  li.innerHTML = "";
  const input = document.createElement("input"); input.value = p.name; input.className = "rename-input";
  const ok = document.createElement("button"); ok.textContent = "Save"; ok.className = "save";
  const cancel = document.createElement("button"); cancel.textContent = "Cancel";
  const save = async () => {
    try { await api("PATCH", `/v1/persons/${p.id}`, { name: input.value }); say(`renamed to ${input.value.trim()}`, true); }
    catch (e) { say(e.message); }
    await refreshPersons(); await identify();
  };
  ok.addEventListener("click", save);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") save(); if (e.key === "Escape") refreshPersons(); });
  cancel.addEventListener("click", refreshPersons);
  li.append(input, ok, cancel); input.focus();
}

async function health() {
  try {
    const res = await fetch("/health").then((r) => r.json());
    const ident = res.identify_threshold == null ? "" :
      ` · identify threshold ${Number(res.identify_threshold).toFixed(2)}` + (res.fpir == null ? "" : ` (FPIR ${res.fpir})`);
    $("status").textContent = `model ${res.model} · verify threshold ${Number(res.threshold).toFixed(2)}${ident}` + (res.auth ? " · API key required" : "");
  } catch (e) { $("status").textContent = "server unreachable"; }
}

health();
refreshPersons();
