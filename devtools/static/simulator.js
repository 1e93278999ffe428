// The simulator page: personas, a phone-like chat per persona, pushes polled from the WeChat stand-in.
"use strict";

const chats = {};        // openid -> list of chat items
const unread = {};       // openid -> count of pushes not yet seen
let personas = [];
let current = null;
let lastCall = -1;       // index of the last stand-in call shown
let lastSms = -1;        // index of the last SMS stand-in call shown
let polling = Promise.resolve();

async function api(path, options) {
  const response = await fetch(`/dev/simulator/api/${path}`, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function post(path, data) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderItem(item) {
  if (item.kind === "template") {
    const card = el("div", "card");
    card.appendChild(el("div", "title", item.title));
    const list = el("dl");
    for (const [label, value] of item.fields) {
      list.appendChild(el("dt", "", label));
      list.appendChild(el("dd", "", value));
    }
    card.appendChild(list);
    if (item.url) card.appendChild(link(item.url, "详情"));
    return card;
  }
  if (item.kind === "sms") return smsMessage(item);
  if (item.kind === "location") {
    // A place the persona sent: its name, and the address under it, as WeChat's location card shows them.
    const message = el("div", `msg ${item.from || "account"} location`, item.text);
    if (item.label) message.appendChild(el("div", "caption", item.label));
    return message;
  }
  const message = el("div", `msg ${item.from || "account"}`);
  if (item.kind === "voice" || item.kind === "image") {
    // The voice or photo itself, loaded from the WeChat stand-in through the simulator.
    const media = el(item.kind === "voice" ? "audio" : "img", "media");
    if (item.kind === "voice") {
      media.controls = true;
      media.preload = "metadata";
    } else {
      media.alt = item.text || "图片";
    }
    // A photo gets its height only once loaded: keep the chat at the bottom when it was there.
    media.addEventListener("loadedmetadata", keepAtBottom);
    media.addEventListener("load", keepAtBottom);
    media.src = item.src;
    message.appendChild(media);
    if (item.text) message.appendChild(el("div", "caption", item.text));
    return message;
  }
  // Links in a text open as WeChat opens them: the mobile list page, in a new tab here.
  for (const part of (item.text || "").split(/(https?:\/\/\S+)/)) {
    message.appendChild(/^https?:\/\//.test(part) ? link(part, part) : document.createTextNode(part));
  }
  return message;
}

// A text message the persona's phone received, beside the WeChat messages: a phone icon and 短信.
function smsMessage(item) {
  const message = el("div", "msg sms");
  const mark = el("div", "sms-mark");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "sms-icon");
  const body = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  for (const [name, value] of [["x", 3.5], ["y", 1], ["width", 9], ["height", 14], ["rx", 1.8]]) body.setAttribute(name, value);
  const speaker = document.createElementNS("http://www.w3.org/2000/svg", "line");
  for (const [name, value] of [["x1", 6.5], ["y1", 12.6], ["x2", 9.5], ["y2", 12.6]]) speaker.setAttribute(name, value);
  svg.append(body, speaker);
  mark.append(svg, el("span", "sms-label", "短信"));
  message.append(mark, el("div", "sms-text", item.text));
  return message;
}

function keepAtBottom(event) {
  const chat = document.getElementById("chat");
  if (!chat.contains(event.target)) return;
  if (chat.scrollHeight - chat.scrollTop - chat.clientHeight < event.target.clientHeight + 80) {
    chat.scrollTop = chat.scrollHeight;
  }
}

function link(url, text) {
  const anchor = el("a", "link", text);
  anchor.href = url;
  anchor.target = "_blank";
  anchor.rel = "noreferrer";
  return anchor;
}

function renderChat() {
  const chat = document.getElementById("chat");
  chat.replaceChildren(...(chats[current] || []).map(renderItem));
  chat.scrollTop = chat.scrollHeight;
}

function renderPersonas() {
  const list = document.getElementById("personas");
  list.replaceChildren(...personas.map((p) => {
    const item = el("li");
    const button = el("button", p.openid === current ? "active" : "", p.label);
    button.dataset.openid = p.openid;
    if (unread[p.openid]) button.appendChild(el("span", "badge", String(unread[p.openid])));
    button.addEventListener("click", () => choose(p.openid));
    item.appendChild(button);
    return item;
  }));
}

function choose(openid) {
  closePicker();  // its places were the last persona's
  current = openid;
  unread[openid] = 0;
  const persona = personas.find((p) => p.openid === openid);
  document.getElementById("phone-title").textContent = persona ? persona.label : "请选择身份";
  renderPersonas();
  renderChat();
}

function add(openid, items) {
  chats[openid] = (chats[openid] || []).concat(items);
  if (openid !== current) return;
  // Append only the new items: redrawing would restart a voice that is playing.
  const chat = document.getElementById("chat");
  for (const item of items) chat.appendChild(renderItem(item));
  chat.scrollTop = chat.scrollHeight;
}

async function send(data) {
  if (!current) { alert("请先选择身份"); return; }
  const openid = current;
  try {
    const result = await post("send", { openid, ...data });
    add(openid, result.messages);
    await poll();
  } catch (error) {
    add(openid, [{ from: "system", text: `发送失败：${error.message}` }]);
  }
}

// Polls run one after another (the timer, a send and a clock step may all ask at once): each asks
// only for what came after the last one shown, and an item already shown is never shown again.
function poll() {
  polling = polling.then(pollOnce);
  return polling;
}

async function pollOnce() {
  try {
    const result = await api(`inbox?after=${lastCall}&sms_after=${lastSms}`);
    let shown = 0;
    // One SMS may go to several phones: its items share an index, all new in this poll.
    const smsSeen = lastSms;
    for (const item of result.items) {
      if (item.kind === "sms") {
        if (item.sms_i <= smsSeen) continue;
        lastSms = Math.max(lastSms, item.sms_i);
      } else {
        if (item.i <= lastCall) continue;
        lastCall = item.i;
      }
      shown += 1;
      add(item.openid, [item]);
      if (item.openid !== current) unread[item.openid] = (unread[item.openid] || 0) + 1;
    }
    lastCall = Math.max(lastCall, result.last);
    lastSms = Math.max(lastSms, result.sms_last);
    if (shown) renderPersonas();
  } catch (error) {
    document.getElementById("tick-log").textContent = `读取推送失败：${error.message}`;
  }
}

async function load() {
  const state = await api("state");
  personas = state.personas;
  document.getElementById("now").textContent = state.now;
  for (const button of document.querySelectorAll(".clock-btn")) button.disabled = !state.clock_movable;
  const cards = document.getElementById("cards");
  cards.className = "cards";
  cards.replaceChildren(...state.cards.map((c) => {
    const item = el("li", "", `${c.name}（${c.village}）协理员：${c.assistant || "未指定"}  绑定码 ${c.bind_code}`);
    const scan = el("button", "scan-btn", "扫码");
    scan.dataset.code = c.bind_code;
    scan.addEventListener("click", () => send({ kind: "scan", bind_code: c.bind_code }));
    item.appendChild(scan);
    return item;
  }));
  renderPersonas();
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send({ kind: "text", text });
});
document.getElementById("voice-btn").addEventListener("click", () => {
  const said = prompt("语音里说什么？（会用普通话读出来）");
  const recognition = document.getElementById("recognition").checked;
  if (said) send({ kind: "voice", text: said, recognition });
});
document.getElementById("image-btn").addEventListener("click", () => {
  const words = prompt("图片上写什么？");
  if (words) send({ kind: "image", text: words });
});
document.getElementById("location-btn").addEventListener("click", () => send({ kind: "location" }));
// WeChat's menu button types: click sends its key; view opens its page (WeChat tells the account with a
// VIEW event); location_select opens the place picker; the scan and photo pickers are not simulated.
const UNSUPPORTED = { scancode_push: "扫一扫", scancode_waitmsg: "扫一扫", pic_sysphoto: "拍照",
  pic_photo_or_album: "拍照或相册", pic_weixin: "微信相册" };
let picking = null;      // the location_select button whose picker is open

function tapMenu(button) {
  const { type, key, url } = button.dataset;
  // As in WeChat, the sub-menu folds away once a button is tapped.
  const group = button.closest("details");
  if (group) group.open = false;
  if (type === "click") send({ kind: "click", key, label: button.textContent });
  else if (type === "view") {
    window.open(url, "_blank", "noreferrer");
    if (current) send({ kind: "view", url });
  } else if (type === "location_select") openPicker(button);
  else if (current) {
    const what = UNSUPPORTED[type] ? `“${UNSUPPORTED[type]}”` : "";
    add(current, [{ from: "system", text: `（模拟器不支持这种菜单按钮${what}：${type}）` }]);
  }
}

async function openPicker(button) {
  if (!current) { alert("请先选择身份"); return; }
  try {
    const result = await api(`places?openid=${encodeURIComponent(current)}`);
    const list = document.getElementById("places");
    list.replaceChildren(...result.places.map((place, index) => {
      const item = el("li");
      const label = el("label");
      const radio = el("input");
      radio.type = "radio";
      radio.name = "place";
      radio.value = String(index);
      radio.checked = index === 0;
      label.append(radio, el("span", "poi", place.poiname), el("span", "address", place.label));
      item.appendChild(label);
      return item;
    }));
    picking = button;
    document.getElementById("picker").hidden = false;
  } catch (error) {
    add(current, [{ from: "system", text: `读取位置失败：${error.message}` }]);
  }
}

function closePicker() {
  picking = null;
  document.getElementById("picker").hidden = true;
}

document.getElementById("picker").addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = document.querySelector("#places input:checked");
  if (!picking || !chosen) return;
  const key = picking.dataset.key;
  closePicker();
  send({ kind: "location_select", key, place: Number(chosen.value) });
});
document.getElementById("picker-cancel").addEventListener("click", closePicker);
for (const button of document.querySelectorAll(".menu-btn")) button.addEventListener("click", () => tapMenu(button));
for (const button of document.querySelectorAll(".clock-btn")) {
  button.addEventListener("click", async () => {
    try {
      const result = await post("clock", { minutes: Number(button.dataset.minutes) });
      document.getElementById("now").textContent = result.now;
      document.getElementById("tick-log").textContent = `模拟时间 ${result.now}\n` + result.lines.join("\n");
      await poll();
    } catch (error) {
      document.getElementById("tick-log").textContent = `调整时间失败：${error.message}`;
    }
  });
}

load().then(poll);
setInterval(poll, 3000);
