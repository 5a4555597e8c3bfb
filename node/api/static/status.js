// Refreshes the status page from GET /v1/network every second; no framework, no build step.
"use strict";

const REFRESH_MS = 1000;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "?" : String(text);
  if (className) td.className = className;
  return td;
}

function hubState(hub) {
  if (!hub.reachable) return "unreachable";
  return hub.fetching ? "catching-up" : "ok";
}

function hubRow(hub, hubs) {
  const row = document.createElement("tr");
  row.className = "hub";
  row.dataset.hub = hub.name;
  row.append(cell(hub.name + (hub.self ? " (this node)" : ""), "name"), cell(hub.height, "height"),
             cell(hub.view, "view"), cell(hub.primary === hub.name ? "primary" : "backup", "role"),
             cell(hub.mempool_size, "mempool"));
  const links = cell("", "links");
  for (const other of hubs) {
    if (other.name === hub.name) continue;
    const up = hub.reachable && (hub.connected_peers || []).includes(other.name);
    const span = document.createElement("span");
    span.className = "link " + (up ? "up" : "down");
    span.textContent = other.name;
    links.append(span);
  }
  const state = hubState(hub);
  row.append(links, cell(state, "state " + state));
  return row;
}

function blockRow(block) {
  const row = document.createElement("tr");
  const time = new Date(block.timestamp_ms).toLocaleTimeString();
  row.append(cell(block.height), cell(block.hash.slice(0, 16)), cell(block.transactions),
             cell(block.view), cell(block.proposer), cell(time));
  return row;
}

function evidenceRow(record) {
  const row = document.createElement("tr");
  row.append(cell(record.validator), cell(record.kind), cell(record.view), cell(record.height));
  return row;
}

function render(view) {
  document.getElementById("served-by").textContent = view.node;
  document.getElementById("chain-height").textContent = view.height;
  document.getElementById("chain-view").textContent = view.view;
  document.getElementById("chain-primary").textContent = view.primary;
  document.getElementById("tx-rate").textContent = view.transactions_per_second.toFixed(2);
  document.getElementById("evidence-count").textContent = view.evidence.count;
  document.querySelector("#hubs tbody").replaceChildren(...view.hubs.map((hub) => hubRow(hub, view.hubs)));
  document.querySelector("#blocks tbody").replaceChildren(...view.recent_blocks.map(blockRow));
  document.querySelector("#evidence tbody").replaceChildren(...view.evidence.recent.map(evidenceRow));
  document.getElementById("evidence-none").hidden = view.evidence.count > 0;
  document.getElementById("refreshed").textContent = new Date().toLocaleTimeString();
}

async function refresh() {
  try {
    const response = await fetch("/v1/network", { cache: "no-store" });
    if (response.ok) render(await response.json());
    else document.getElementById("refreshed").textContent = "failed: HTTP " + response.status;
  } catch (error) {
    document.getElementById("refreshed").textContent = "failed: node unreachable";
  }
  setTimeout(refresh, REFRESH_MS);
}

for (const time of document.querySelectorAll("time[data-ms]")) {
  time.textContent = new Date(Number(time.dataset.ms)).toLocaleTimeString();
}
document.getElementById("evidence-none").hidden = Number(document.getElementById("evidence-count").textContent) > 0;
setTimeout(refresh, REFRESH_MS);
