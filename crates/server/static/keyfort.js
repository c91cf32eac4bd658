// Keyfort's pages: WebAuthn ceremonies and small form handlers. No dependencies.
"use strict";

function show(message, isError) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  el.className = isError ? "status error" : "status";
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) {
    const err = new Error(data.message || ("Request failed (" + res.status + ")"));
    err.code = data.error;
    throw err;
  }
  return data;
}

// A waiting application sign-in request, carried from page to page.
const pendingRequest = new URLSearchParams(window.location.search).get("request");

function withRequest(body) {
  if (pendingRequest) body.request = pendingRequest;
  return body;
}

function webauthnSupported() {
  return window.PublicKeyCredential && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
}

function explain(e) {
  if (e && e.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
  if (e && e.name === "InvalidStateError") return "This passkey is already registered.";
  return (e && e.message) || "Something went wrong.";
}

// ---- Sign-in page -------------------------------------------------------

let conditionalAbort = null;

async function passkeySignIn(body, mediation) {
  const begin = await api("POST", "/api/signin/passkey/begin", body);
  const options = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey) };
  if (mediation) {
    conditionalAbort = new AbortController();
    options.mediation = mediation;
    options.signal = conditionalAbort.signal;
  }
  const credential = await navigator.credentials.get(options);
  const done = await api("POST", "/api/signin/passkey/finish", withRequest({ ceremonyId: begin.ceremonyId, credential: credential.toJSON() }));
  window.location.assign(done.redirect || "/my/security");
}

function cancelConditional() {
  if (conditionalAbort) { conditionalAbort.abort(); conditionalAbort = null; }
}

async function startConditional() {
  if (!webauthnSupported() || !PublicKeyCredential.isConditionalMediationAvailable) return;
  if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
  // A ceremony lives 5 minutes on the server: renew the autofill request before then.
  const renew = setTimeout(() => { cancelConditional(); startConditional(); }, 4 * 60 * 1000);
  try {
    await passkeySignIn({}, "conditional");
  } catch (e) {
    if (e && e.name === "AbortError") return;
    show(explain(e), true);
  } finally {
    clearTimeout(renew);
  }
}

function initSignIn() {
  if (!webauthnSupported()) {
    show("This browser does not support passkeys. Use a Temporary Access Pass instead.", true);
    return;
  }
  document.getElementById("username-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = document.getElementById("username").value.trim();
    if (!username) { show("Enter your username.", true); return; }
    cancelConditional();
    try { await passkeySignIn({ username }); } catch (e) { show(explain(e), true); startConditional(); }
  });
  document.getElementById("passkey-button").addEventListener("click", async () => {
    cancelConditional();
    try { await passkeySignIn({}); } catch (e) { show(explain(e), true); startConditional(); }
  });
  startConditional();
}

// ---- Temporary Access Pass page ----------------------------------------

function initTap() {
  document.getElementById("tap-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = document.getElementById("tap-username").value.trim();
    const code = document.getElementById("tap-code").value;
    try {
      const done = await api("POST", "/api/signin/tap", withRequest({ username, code }));
      window.location.assign(done.redirect || "/my/security");
    } catch (e) { show(explain(e), true); }
  });
}

// ---- My security ---------------------------------------------------------

function initSecurity() {
  document.getElementById("add-passkey").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!webauthnSupported()) { show("This browser does not support passkeys.", true); return; }
    const name = document.getElementById("new-passkey-name").value.trim();
    try {
      const begin = await api("POST", "/api/passkeys/register/begin", {});
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
      const credential = await navigator.credentials.create({ publicKey });
      const body = { ceremonyId: begin.ceremonyId, credential: credential.toJSON() };
      if (name) body.displayName = name;
      await api("POST", "/api/passkeys/register/finish", body);
      window.location.reload();
    } catch (e) { show(explain(e), true); }
  });
  document.querySelectorAll("form.rename").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const displayName = form.querySelector("input").value.trim();
      try { await api("POST", "/api/passkeys/" + form.dataset.id + "/rename", { displayName }); window.location.reload(); }
      catch (e) { show(explain(e), true); }
    });
  });
  document.querySelectorAll("button.delete").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const warning = btn.dataset.last === "true"
        ? "This is your last passkey. Without it you cannot sign in until an administrator gives you a Temporary Access Pass. Delete it?"
        : "Delete this passkey?";
      if (!window.confirm(warning)) return;
      try { await api("DELETE", "/api/passkeys/" + btn.dataset.id); window.location.reload(); }
      catch (e) { show(explain(e), true); }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "signin") initSignIn();
  else if (page === "tap") initTap();
  else if (page === "security") initSecurity();
});
