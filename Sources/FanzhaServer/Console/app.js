// The Fanzha console: plain JavaScript, no build step, nothing from the internet.
// Pages: #/queue (the referral queue), #/case/ID, #/try (a text or a call), #/rules.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
const LEVEL = { high: "高", medium: "中", low: "低", none: "无" };
const TIER_NAME = { high: "高风险：96110 立即劝阻，必要时上门", medium: "中风险：96110 电话劝阻", low: "低风险：12381 预警短信" };
const STATE_NAME = { new: "新建", claimed: "已认领", sms_sent: "已发短信", calling: "拨打中", reached: "已接通", unreached: "未接通",
  visit_requested: "已请求上门", visited: "已上门", closed: "已结案" };
const OUTCOME_NAME = { dissuaded: "劝阻成功", already_paid: "已被骗（110 止付冻结）", not_reachable: "无法联系", false_alarm: "误报", duplicate: "重复" };

function token() { return localStorage.getItem("fanzha.token") || ""; }
$("#token").value = token();
$("#token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem("fanzha.token", $("#token").value.trim());
  titles = null;
  route();
});

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const why = data && data.error ? data.error : res.statusText;
    const extra = data && data.diagnostics ? "\n" + data.diagnostics.join("\n") : "";
    const hint = res.status === 401 ? "（请在右上角填写令牌）" : res.status === 403 ? "（此令牌没有该权限）" : "";
    throw new Error(`${res.status} ${why}${hint}${extra}`);
  }
  return data;
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function badge(level) { return `<span class="badge ${esc(level)}">${esc(LEVEL[level] || level)}</span>`; }
function showError(where, err) { where.innerHTML = `<p class="error">${esc(err.message || err)}</p>`; }

// Evidence spans are Unicode scalar offsets (end exclusive): Array.from splits a string into scalars.
function highlight(text, spans) {
  const chars = Array.from(text || "");
  const marks = new Array(chars.length).fill(null);
  for (const s of spans) for (let i = s.start; i < Math.min(s.end, chars.length); i++) marks[i] = s.title || "";
  let out = "", open = false;
  for (let i = 0; i < chars.length; i++) {
    if (marks[i] !== null && !open) { out += `<mark title="${esc(marks[i])}">`; open = true; }
    if (marks[i] === null && open) { out += "</mark>"; open = false; }
    out += esc(chars[i]);
  }
  if (open) out += "</mark>";
  return out;
}

// A record (message or call) with the verdict's hits marked.
function markedRecord(record, hits) {
  const spans = [];
  for (const h of hits || []) for (const s of h.spans || []) spans.push({ ...s, title: `${h.rule}（${h.score}）${h.title}` });
  if (record.turns) {
    return record.turns.map((t, i) => `<div class="turn"><span class="who">${esc(t.speaker)}</span>${highlight(t.text, spans.filter((s) => s.turn === i))}</div>`).join("");
  }
  return highlight(record.text, spans.filter((s) => s.turn === undefined || s.turn === null));
}

function pointsTable(points) {
  if (!points.length) return `<p class="muted">没有规则命中。</p>`;
  return `<table><thead><tr><th class="num">分</th><th>规则</th><th class="wide">说明</th><th>证据</th></tr></thead><tbody>` +
    points.map((p) => `<tr><td class="num">${p.points}</td><td><code>${esc(p.rule)}</code></td><td class="wide">${esc(p.title)}</td><td>${p.evidence.map((e) => "「" + esc(e) + "」").join(" ")}</td></tr>`).join("") +
    `</tbody></table>`;
}

function verdictBlock(v, t) {
  return `<div class="verdict-head">${badge(v.level)} <b>${esc(v.score)} 分</b> ${v.category ? esc(categoryName(t, v.category)) : ""}</div>` +
    (v.advice ? `<p class="advice">建议：${esc(v.advice)}</p>` : "") +
    (v.referral ? `<p>转介：<b>${esc(v.referral.action)}</b>（${esc(v.referral.hotline)}）</p>` : "");
}

// Category ids → their Chinese titles, from the rules serving now (any role may read them).
let titles = null;
async function categoryTitles() {
  if (titles) return titles;
  try {
    const r = await api("GET", "/v1/rules");
    titles = Object.fromEntries(r.categories.map((c) => [c.id, c.title]));
  } catch (_) { return {}; }
  return titles;
}
function categoryName(t, id) { return id ? (t[id] || id) : "—"; }

// ---- the referral queue ------------------------------------------------------------------

let ticker = null;
function countdown(deadline) {
  const ms = Date.parse(deadline) - Date.now();
  const late = ms < 0, a = Math.abs(ms);
  const h = Math.floor(a / 3600000), m = Math.floor((a % 3600000) / 60000), s = Math.floor((a % 60000) / 1000);
  const t = (h ? h + "小时" : "") + (h || m ? m + "分" : "") + s + "秒";
  return { late, text: late ? "已超时 " + t : "剩余 " + t };
}
function tickCountdowns() {
  for (const el of document.querySelectorAll(".countdown[data-deadline]")) {
    const c = countdown(el.dataset.deadline);
    el.textContent = c.text;
    el.classList.toggle("late", c.late);
  }
}

async function queuePage() {
  main.innerHTML = `<h2>转介队列</h2><p class="muted">按风险等级分组，超时的在最前。</p><div id="queue">加载中…</div>`;
  const where = $("#queue");
  let data;
  try { data = await api("GET", "/v1/referrals?open=1"); } catch (e) { return showError(where, e); }
  const cases = data.cases || [];
  const t = await categoryTitles();
  if (!cases.length) { where.innerHTML = `<p class="muted">队列为空。</p>`; return; }
  let html = "";
  for (const tier of ["high", "medium", "low"]) {
    const list = cases.filter((c) => c.tier === tier).sort((a, b) =>
      (!!b.overdue - !!a.overdue) || ((Date.parse(a.deadline) || Infinity) - (Date.parse(b.deadline) || Infinity)));
    if (!list.length) continue;
    html += `<section class="tier" data-tier="${tier}"><h2>${badge(tier)} ${esc(TIER_NAME[tier])}（${list.length}）</h2><ul class="cases">` +
      list.map((c) => `<li class="${c.overdue ? "overdue" : ""}" data-case="${esc(c.id)}"><a href="#/case/${encodeURIComponent(c.id)}">#${esc(c.id)}</a>` +
        `<span>${esc(categoryName(t, c.category))}</span><span>${esc(STATE_NAME[c.state] || c.state)}</span><span class="muted">${esc(c.subject || "")}</span>` +
        (c.deadline ? `<span class="countdown" data-deadline="${esc(c.deadline)}"></span>` : "") + `</li>`).join("") +
      `</ul></section>`;
  }
  where.innerHTML = html;
  tickCountdowns();
}

// ---- a case ------------------------------------------------------------------------------

// Each button, the route it posts to, and the name the workflow's `allowed` list gives that step.
const STEPS = [
  { step: "claim", allowed: "claim", label: "认领" },
  { step: "sms", allowed: "sms", label: "已发预警短信" },
  { step: "call", allowed: "call --result reached", label: "电话：已接通", body: { result: "reached" } },
  { step: "call", allowed: "call --result unreached", label: "电话：未接通", body: { result: "unreached" } },
  { step: "visit", allowed: "visit", label: "请求上门", body: { done: false } },
  { step: "visit", allowed: "visit --done", label: "已上门", body: { done: true } },
];
const KIND_NAME = { opened: "新建", joined: "合并证据", escalated: "升级", reopened: "重开", claim: "认领", sms: "短信", call: "电话",
  visit_requested: "请求上门", visited: "已上门", close: "结案", note: "备注", reopen: "重开", read: "查看" };

async function casePage(id) {
  main.innerHTML = `<p><a href="#/queue">← 转介队列</a></p><div id="case">加载中…</div>`;
  const where = $("#case");
  let c;
  try { c = await api("GET", "/v1/referrals/" + encodeURIComponent(id)); } catch (e) { return showError(where, e); }
  const k = c;
  const t = await categoryTitles();
  const allowed = new Set(c.allowed || []);
  const closeable = Object.keys(OUTCOME_NAME).filter((o) => allowed.has("close --outcome " + o));
  let html = `<h2>案件 #${esc(k.id)} ${badge(k.tier)} <span class="state" id="case-state">${esc(STATE_NAME[k.state] || k.state)}</span></h2>` +
    `<dl class="kv"><dt>类别</dt><dd>${esc(categoryName(t, k.category))}</dd><dt>当事人</dt><dd>${esc(k.subject || "")}</dd>` +
    `<dt>对方</dt><dd>${esc(k.counterparty || "—")}</dd><dt>期限</dt><dd>${k.deadline ? `<span class="countdown" data-deadline="${esc(k.deadline)}"></span>` : "—"}</dd>` +
    (k.outcome ? `<dt>结果</dt><dd>${esc(OUTCOME_NAME[k.outcome] || k.outcome)}</dd>` : "") + `</dl>`;
  html += `<h3>证据</h3>` + (c.evidence || []).map((e) => {
    const record = e.is_call ? { turns: e.turns } : { text: (e.turns[0] || {}).text || "" };
    return `<p class="muted">${esc(e.record_id)} · ${badge(e.tier)} ${esc(e.score)} 分 · ${esc(new Date(e.seen_at).toLocaleString("zh-CN"))}</p><div class="marked">${markedRecord(record, e.hits)}</div>`;
  }).join("");
  html += `<h3>处置</h3><div class="actions">` +
    STEPS.map((s, i) => `<button data-i="${i}" data-step="${esc(s.allowed)}" ${allowed.has(s.allowed) ? "" : "disabled"}>${esc(s.label)}</button>`).join("") +
    `</div><div class="actions"><select id="outcome" ${closeable.length ? "" : "disabled"}>${closeable.map((o) => `<option value="${o}">${esc(OUTCOME_NAME[o])}</option>`).join("")}</select>` +
    `<input type="text" id="stop-payment" placeholder="110 止付/冻结编号（已被骗时必填）">` +
    `<button id="close" ${closeable.length ? "" : "disabled"}>结案</button>` +
    `<button id="reopen" ${allowed.has("reopen") ? "" : "disabled"}>重开</button></div>` +
    `<p><input type="text" id="note" placeholder="备注" style="width:70%"> <button id="add-note">添加备注</button></p><div id="act-error"></div>`;
  html += `<h3>记录</h3><table id="history"><thead><tr><th>时间</th><th>操作人</th><th>操作</th><th class="wide">状态</th><th>备注</th></tr></thead><tbody>` +
    (c.history || []).map((h) => `<tr><td>${esc(new Date(h.at).toLocaleString("zh-CN"))}</td><td>${esc(h.actor)}</td><td>${esc(KIND_NAME[h.kind] || h.kind)}</td>` +
      `<td class="wide">${h.from && h.from !== h.to ? esc(STATE_NAME[h.from] || h.from) + " → " : ""}${esc(STATE_NAME[h.to] || h.to)}</td><td>${esc(h.outcome ? (OUTCOME_NAME[h.outcome] || h.outcome) + " " : "")}${esc(h.note || "")}</td></tr>`).join("") +
    `</tbody></table>`;
  where.innerHTML = html;
  tickCountdowns();
  const act = async (step, body) => {
    try { await api("POST", `/v1/referrals/${encodeURIComponent(id)}/${step}`, body || {}); casePage(id); }
    catch (e) { showError($("#act-error"), e); }
  };
  for (const b of where.querySelectorAll("button[data-i]")) b.addEventListener("click", () => { const s = STEPS[+b.dataset.i]; act(s.step, s.body); });
  $("#close").addEventListener("click", () => act("close", { outcome: $("#outcome").value, stop_payment: $("#stop-payment").value || null, note: $("#note").value }));
  $("#reopen").addEventListener("click", () => act("reopen", { note: $("#note").value }));
  $("#add-note").addEventListener("click", () => act("note", { note: $("#note").value }));
}

// ---- try a text or a call ----------------------------------------------------------------

async function tryPage() {
  main.innerHTML = `<h2>试一试</h2>
    <div class="tabs"><label><input type="radio" name="kind" value="text" checked> 短信 / 文本</label>
    <label><input type="radio" name="kind" value="call"> 通话（每行 “说话人: 内容”）</label></div>
    <textarea id="input" placeholder="粘贴一条短信，或一段通话记录"></textarea>
    <p><button class="primary" id="run">检测</button></p><div id="result"></div>`;
  $("#run").addEventListener("click", async () => {
    const text = $("#input").value;
    const call = document.querySelector("input[name=kind]:checked").value === "call";
    let record = { id: "console", text };
    if (call) {
      const turns = text.split("\n").filter((l) => l.trim()).map((l) => {
        const m = l.match(/^\s*([^:：]{1,20})[:：]\s*(.*)$/);
        return m ? { speaker: m[1].trim(), text: m[2] } : { speaker: "caller", text: l };
      });
      record = { id: "console", turns };
    }
    const where = $("#result");
    where.innerHTML = "检测中…";
    try {
      const r = await api("POST", "/v1/explain", record);
      where.innerHTML = verdictBlock(r.verdict, await categoryTitles()) + `<h3>证据</h3><div class="marked" id="marked">${markedRecord(record, r.verdict.hits)}</div>` +
        `<h3>得分</h3>${pointsTable(r.points)}`;
    } catch (e) { showError(where, e); }
  });
}

// ---- rules -------------------------------------------------------------------------------

async function rulesPage() {
  main.innerHTML = `<h2>规则</h2><div id="rules">加载中…</div>`;
  const where = $("#rules");
  let r;
  try { r = await api("GET", "/v1/rules"); } catch (e) { return showError(where, e); }
  where.innerHTML = `<p>共 <b>${r.rules}</b> 条规则，加载于 ${esc(new Date(r.loaded_at).toLocaleString("zh-CN"))}。 <button id="reload">重新加载规则</button></p><div id="reload-result"></div>` +
    `<table><thead><tr><th>类别</th><th class="wide">说明</th><th class="num">规则数</th><th class="num">启动以来命中</th></tr></thead><tbody>` +
    r.categories.map((c) => `<tr><td><b>${esc(c.title)}</b><br><code>${esc(c.id)}</code></td><td class="wide">${esc(c.description)}</td><td class="num">${c.rules}</td><td class="num">${c.hits}</td></tr>`).join("") +
    `</tbody></table><h3>命中最多的规则</h3>` +
    (r.rule_hits.length ? `<table><thead><tr><th>规则</th><th class="wide">说明</th><th class="num">分</th><th class="num">命中</th></tr></thead><tbody>` +
      r.rule_hits.slice(0, 50).map((h) => `<tr><td><code>${esc(h.rule)}</code></td><td class="wide">${esc(h.title)}</td><td class="num">${h.score}</td><td class="num">${h.hits}</td></tr>`).join("") +
      `</tbody></table>` : `<p class="muted">启动以来还没有命中。</p>`);
  $("#reload").addEventListener("click", async () => {
    try { await api("POST", "/v1/rules/reload"); rulesPage(); }
    catch (e) { showError($("#reload-result"), e); }
  });
}

// ---- routing -----------------------------------------------------------------------------

function route() {
  const hash = location.hash || "#/queue";
  const [, page, arg] = hash.split("/");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page || (page === "case" && a.dataset.page === "queue"));
  if (page === "case" && arg) return casePage(decodeURIComponent(arg));
  if (page === "try") return tryPage();
  if (page === "rules") return rulesPage();
  return queuePage();
}
window.addEventListener("hashchange", route);
if (!ticker) ticker = setInterval(tickCountdowns, 1000);
route();
