// The sandbox console: reads the /sandbox/v1 helpers every second and renders them. Every
// value is inserted as text (never as HTML): names and emails come from API callers.
"use strict";

const REFRESH_MS = 1000;
// The default App Client every sandbox has; its secret is printed in the sandbox's banner.
const CLIENT = { id: "sandbox-client", secret: "sandbox-secret" };
// One token request at a time, shared by every call waiting for it.
let token = null;

function currentToken() {
  if (!token) {
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: CLIENT.id, client_secret: CLIENT.secret });
    token = fetch("/oauth2/token", { method: "POST", body }).then(async (response) => {
      if (!response.ok) throw new Error("token request answered " + response.status);
      return (await response.json()).access_token;
    });
    token.catch(() => { token = null; });
  }
  return token;
}

async function call(method, path) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const bearer = await currentToken();
    const response = await fetch(path, { method, headers: { Authorization: "Bearer " + bearer } });
    if (response.status === 401) { token = null; continue; }
    if (!response.ok) throw new Error(method + " " + path + " answered " + response.status);
    return response.status === 204 ? null : response.json();
  }
  throw new Error("not authorised");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function refs(list) {
  return (list || []).map((r) => r.namespace + ":" + r.externalId).join(", ");
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

function fill(tableId, countId, rows, render) {
  const body = document.querySelector("#" + tableId + " tbody");
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    render(row, tr);
    fragment.appendChild(tr);
  }
  body.replaceChildren(fragment);
  if (countId) document.getElementById(countId).textContent = rows.length;
}

function definitions(listId, entries) {
  const dl = document.getElementById(listId);
  const fragment = document.createDocumentFragment();
  for (const [key, value] of entries) {
    const dt = document.createElement("dt");
    dt.textContent = key;
    const dd = document.createElement("dd");
    dd.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
    fragment.append(dt, dd);
  }
  dl.replaceChildren(fragment);
}

async function accept(invitationId, button) {
  button.disabled = true;
  try {
    await call("POST", "/sandbox/v1/invitations/" + encodeURIComponent(invitationId) + ":accept");
  } catch (error) {
    showError(error);
  }
  await refresh();
}

function showError(error) {
  const badge = document.getElementById("connection");
  badge.textContent = String(error.message || error);
  badge.className = "badge error";
}

async function refresh() {
  try {
    const [users, invitations, documents, requests, faults, stats] = await Promise.all([
      call("GET", "/sandbox/v1/users"),
      call("GET", "/sandbox/v1/invitations"),
      call("GET", "/sandbox/v1/documents"),
      call("GET", "/sandbox/v1/requests"),
      call("GET", "/sandbox/v1/faults"),
      call("GET", "/sandbox/v1/stats"),
    ]);
    fill("users", "users-count", users.users, (u, tr) => {
      tr.dataset.userId = u.userId;
      tr.append(cell(u.email), cell(u.firstName + " " + u.lastName), cell(u.userId, "id"),
        cell(refs(u.externalReferences)), cell(u.source), cell(time(u.creationDateTime)));
    });
    fill("invitations", "invitations-count", invitations.invitations, (i, tr) => {
      tr.dataset.invitationId = i.invitationId;
      const action = document.createElement("td");
      if (i.status === "pending") {
        const button = document.createElement("button");
        button.textContent = "Accept";
        button.className = "accept";
        button.addEventListener("click", () => accept(i.invitationId, button));
        action.appendChild(button);
      }
      tr.append(cell(i.email), cell(i.invitationId, "id"), cell(i.status, "status status-" + i.status),
        cell(i.userState), cell(refs(i.externalReferences)), action);
    });
    fill("documents", "documents-count", documents.documents, (d, tr) => {
      tr.append(cell(d.documentType), cell(d.category), cell(d.filename), cell(d.sizeBytes + " B"),
        cell(d.userId, "id"), cell(refs([d.externalReference])), cell(time(d.creationDateTime)));
    });
    fill("requests", null, requests.requests, (r, tr) => {
      const status = r.status === null ? "closed" : r.status;
      const klass = r.status === null ? "http-none" : "http-" + String(r.status)[0];
      tr.append(cell(time(r.time)), cell(r.method), cell(r.path, "mono"), cell(status, klass),
        cell(r.latencyMs.toFixed(1) + " ms"), cell(r.requestId, "id"), cell(r.clientId), cell(r.fault));
    });
    definitions("fault-rates", [
      ["fail rate", faults.failRate], ["drop rate", faults.dropRate],
      ["lost answer rate", faults.lostAnswerRate], ["latency", faults.latencyMs + " ms"],
      ["rate limit", faults.rateLimit === null ? "none" : faults.rateLimit + "/s"],
    ]);
    const script = document.getElementById("fault-script");
    script.replaceChildren(...faults.faults.map((f) => {
      const li = document.createElement("li");
      li.textContent = (f.operation || "any operation") + " → " + f.fault;
      return li;
    }));
    definitions("stats", Object.entries(stats));
    const badge = document.getElementById("connection");
    badge.textContent = "live";
    badge.className = "badge ok";
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    showError(error);
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
