// Keyfort's pages: WebAuthn ceremonies and small form handlers. No dependencies.
"use strict";

function show(message, isError, code) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  el.className = isError ? "status error" : "status";
  if (code) el.dataset.code = code; else delete el.dataset.code;
}

function fail(e) { show(explain(e), true, e && e.code); }

// A confirmation that survives the reload after a change.
const FLASH = "keyfort.flash";
function flashAfterReload(message) { sessionStorage.setItem(FLASH, message); }
function showFlash() {
  const message = sessionStorage.getItem(FLASH);
  if (message) { sessionStorage.removeItem(FLASH); show(message, false); }
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
  // The browser does not say which: the person cancelled, the request timed out, or the
  // device could not verify them (PIN, fingerprint, face).
  if (e && e.name === "NotAllowedError") return "Your device did not confirm it is you: the request was cancelled, timed out, or your PIN, fingerprint or face was not recognised. Try again, or choose another way.";
  if (e && e.name === "InvalidStateError") return "This device already holds a passkey for your account.";
  if (e && e.name === "SecurityError") return "This page's address does not match Keyfort's: passkeys only work on Keyfort's own address.";
  return (e && e.message) || "Something went wrong.";
}

// Registers a passkey for the signed-in person; resolves to the saved passkey.
async function registerPasskey(name) {
  const begin = await api("POST", "/api/passkeys/register/begin", {});
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
  const credential = await navigator.credentials.create({ publicKey });
  const body = { ceremonyId: begin.ceremonyId, credential: credential.toJSON() };
  if (name) body.displayName = name;
  return api("POST", "/api/passkeys/register/finish", body);
}

// ---- WebAuthn signals: keep the passkey manager in step with Keyfort ------

// Which signal methods this browser offers (getClientCapabilities, WebAuthn L3 §5.1.7);
// none where it does not say.
async function signalCapabilities() {
  if (!window.PublicKeyCredential || typeof PublicKeyCredential.getClientCapabilities !== "function") return {};
  try {
    const caps = await PublicKeyCredential.getClientCapabilities();
    const has = (name) => caps[name] === true && typeof PublicKeyCredential[name] === "function";
    return {
      all: has("signalAllAcceptedCredentials"),
      details: has("signalCurrentUserDetails"),
      unknown: has("signalUnknownCredential"),
    };
  } catch (_) { return {}; }
}

// Tells the passkey manager which of the account's passkeys Keyfort still accepts (so
// deleted ones disappear from it) and the account's current names. Never fails a page.
async function signalAccepted() {
  const can = await signalCapabilities();
  if (!can.all && !can.details) return;
  try {
    const s = await api("GET", "/api/passkeys/signals");
    if (can.all) {
      await PublicKeyCredential.signalAllAcceptedCredentials({
        rpId: s.rpId, userId: s.userId, allAcceptedCredentialIds: s.allAcceptedCredentialIds,
      });
    }
    if (can.details) {
      await PublicKeyCredential.signalCurrentUserDetails({
        rpId: s.rpId, userId: s.userId, name: s.name, displayName: s.displayName,
      });
    }
  } catch (_) { /* a signal is advice to the browser: nothing to show */ }
}

// A passkey Keyfort does not know: the passkey manager may forget it.
async function signalUnknown(rpId, credentialId) {
  const can = await signalCapabilities();
  if (!can.unknown) return;
  try { await PublicKeyCredential.signalUnknownCredential({ rpId, credentialId }); } catch (_) { /* advice only */ }
}

// ---- Sign-in page -------------------------------------------------------

// The passkey request in progress (autofill or a prompt): choosing another way ends it.
let conditionalAbort = null;

async function passkeySignIn(body, mediation) {
  const begin = await api("POST", "/api/signin/passkey/begin", body);
  const options = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey) };
  conditionalAbort = new AbortController();
  options.signal = conditionalAbort.signal;
  if (mediation) options.mediation = mediation;
  const credential = await navigator.credentials.get(options);
  let done;
  try {
    done = await api("POST", "/api/signin/passkey/finish", withRequest({ ceremonyId: begin.ceremonyId, credential: credential.toJSON() }));
  } catch (e) {
    if (e.code === "unknown_credential") await signalUnknown(begin.publicKey.rpId, credential.id);
    throw e;
  }
  await signalAccepted();
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
    fail(e);
  } finally {
    clearTimeout(renew);
  }
}

const CHOICE_LABELS = {
  passkey: "Sign in with a passkey",
  password: "Use your password",
  temporaryAccessPass: "Use a Temporary Access Pass",
  softwareOath: "Use a code from your authenticator app",
};

// After a right password: the sealed step a code is checked against.
let pendingSecondStep = null;
// The second factor the person picked before typing their password, if any.
let chosenSecondFactor = null;

function tapPage(username) {
  const q = new URLSearchParams();
  if (username) q.set("username", username);
  if (pendingRequest) q.set("request", pendingRequest);
  return "/signin/tap?" + q.toString();
}

// Starts one way to sign in for the name typed.
async function signInWith(choice, username) {
  const passwordForm = document.getElementById("password-form");
  if (choice === "temporaryAccessPass") { window.location.assign(tapPage(username)); return; }
  if (choice === "password" || choice === "softwareOath") {
    chosenSecondFactor = choice === "softwareOath" ? "softwareOath" : null;
    cancelConditional();
    document.getElementById("totp-form").hidden = true;
    document.getElementById("other-ways").hidden = true;
    document.getElementById("username-form").hidden = true;
    document.getElementById("passkey-start").hidden = true;
    document.getElementById("password-username").textContent = username;
    passwordForm.hidden = false;
    document.getElementById("password").focus();
    return;
  }
  passwordForm.hidden = true;
  cancelConditional();
  try {
    await passkeySignIn({ username });
  } catch (e) {
    if (e && e.name === "AbortError") return;
    fail(e);
    startConditional();
  }
}

// The second step after a right password: a passkey, or a code from the app.
async function secondStep(choice, username) {
  const totpForm = document.getElementById("totp-form");
  document.getElementById("password-form").hidden = true;
  if (choice === "softwareOath") {
    cancelConditional();
    totpForm.hidden = false;
    document.getElementById("totp-code").focus();
    return;
  }
  totpForm.hidden = true;
  show("Password accepted. Now confirm it is you with your passkey.", false);
  try {
    await passkeySignIn({ username });
  } catch (e) {
    if (e && e.name === "AbortError") return;
    fail(e);
  }
}

// "Other ways to sign in": the remaining ways, strongest first, weakest last.
function showOtherWays(others, username, pick) {
  const section = document.getElementById("other-ways");
  const list = document.getElementById("other-list");
  list.replaceChildren();
  for (const choice of others) {
    if (!CHOICE_LABELS[choice]) continue;
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.dataset.choice = choice;
    b.textContent = CHOICE_LABELS[choice];
    b.addEventListener("click", () => (pick || signInWith)(choice, username));
    li.append(b);
    list.append(li);
  }
  section.hidden = list.children.length === 0;
}

function initSignIn() {
  const needsPasskey = document.getElementById("passkey-required") !== null;
  document.getElementById("username-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = document.getElementById("username").value.trim();
    if (!username) { show("Enter your username.", true); return; }
    let choices = { preferred: "passkey", others: [] };
    if (!needsPasskey) {
      try { choices = await api("POST", "/api/signin/choices", { username }); } catch (e) { fail(e); return; }
    }
    if (!choices.preferred && (choices.others || []).length) {
      // The ranking is off: the person picks how to sign in.
      cancelConditional();
      showOtherWays(choices.others, username);
      show("Choose how to sign in.", false);
      return;
    }
    showOtherWays(choices.others || [], username);
    await signInWith(choices.preferred || "passkey", username);
  });
  document.getElementById("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = document.getElementById("password-username").textContent;
    const password = document.getElementById("password").value;
    if (!password) { show("Enter your password.", true); return; }
    try {
      const done = await api("POST", "/api/signin/password", withRequest({ username, password }));
      const offered = [...(done.secondFactor ? [done.secondFactor] : []), ...(done.otherSecondFactors || [])];
      if (offered.length) {
        pendingSecondStep = done.pending || null;
        const first = offered.includes(chosenSecondFactor) ? chosenSecondFactor : done.secondFactor;
        if (!first) {
          // No preferred second factor: the person picks one.
          document.getElementById("password-form").hidden = true;
          show("Password accepted. Choose how to confirm it is you.", false);
          showOtherWays(offered, username, secondStep);
          return;
        }
        showOtherWays(offered.filter((f) => f !== first), username, secondStep);
        await secondStep(first, username);
        return;
      }
      window.location.assign(done.redirect || "/my/security");
    } catch (e) { fail(e); }
  });
  document.getElementById("totp-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = document.getElementById("totp-code").value;
    if (!code.trim()) { show("Enter the code your app shows.", true); return; }
    try {
      const done = await api("POST", "/api/signin/totp", withRequest({ pending: pendingSecondStep, code }));
      window.location.assign(done.redirect || "/my/security");
    } catch (e) { fail(e); }
  });
  document.getElementById("change-user").addEventListener("click", () => {
    cancelConditional();
    document.getElementById("password-form").hidden = true;
    document.getElementById("totp-form").hidden = true;
    document.getElementById("other-ways").hidden = true;
    document.getElementById("username-form").hidden = false;
    document.getElementById("passkey-start").hidden = false;
    document.getElementById("password").value = "";
    document.getElementById("username").focus();
  });
  if (!webauthnSupported()) {
    show("This browser does not support passkeys. Use your password or a Temporary Access Pass instead.", true);
    document.getElementById("passkey-start").hidden = true;
    return;
  }
  document.getElementById("passkey-button").addEventListener("click", async () => {
    cancelConditional();
    try { await passkeySignIn({}); } catch (e) { fail(e); startConditional(); }
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
    } catch (e) { fail(e); }
  });
}

// ---- Set up your passkey (after a pass sign-in) -----------------------------

function initSetup() {
  const form = document.getElementById("setup-passkey");
  // Only ever a path on this origin, as the server wrote it.
  const next = form.dataset.next.startsWith("/") ? form.dataset.next : "/my/security";
  const snooze = document.getElementById("setup-snooze");
  if (snooze) {
    snooze.addEventListener("click", async () => {
      try {
        await api("POST", "/api/campaign/snooze", {});
        window.location.assign(next);
      } catch (e) { fail(e); }
    });
  }
  if (!webauthnSupported()) {
    show("This browser does not support passkeys. Choose \u201cNot now\u201d and set one up on another device.", true);
    form.querySelector("button").disabled = true;
    return;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("setup-passkey-button");
    button.disabled = true;
    try {
      const saved = await registerPasskey(document.getElementById("setup-passkey-name").value.trim());
      show("Passkey \u201c" + (saved.displayName || "passkey") + "\u201d is set up. Continuing\u2026", false);
      flashAfterReload("Passkey \u201c" + (saved.displayName || "passkey") + "\u201d is set up. Next time, sign in with it.");
      window.location.assign(next);
    } catch (e) { fail(e); button.disabled = false; }
  });
}

// ---- My security ---------------------------------------------------------

// Adding or removing the authenticator app.
function initTotpEnrolment() {
  const remove = document.getElementById("remove-totp");
  if (remove) {
    remove.addEventListener("click", async () => {
      if (!window.confirm("Remove the authenticator app? Its codes will no longer sign you in.")) return;
      try {
        await api("DELETE", "/api/totp");
        flashAfterReload("Authenticator app removed.");
        window.location.reload();
      } catch (e) { fail(e); }
    });
  }
  const add = document.getElementById("add-totp");
  if (!add) return;
  const form = document.getElementById("totp-enrol");
  let enrolment = null;
  add.addEventListener("click", async () => {
    try {
      const begun = await api("POST", "/api/totp/enrol/begin", {});
      enrolment = begun.enrolment;
      // SVG made by Keyfort from the QR modules: parsed, not run.
      const svg = new DOMParser().parseFromString(begun.qrSvg, "image/svg+xml").documentElement;
      document.getElementById("totp-qr").replaceChildren(document.importNode(svg, true));
      document.getElementById("totp-secret").textContent = begun.secret;
      form.hidden = false;
      add.hidden = true;
      document.getElementById("totp-enrol-code").focus();
    } catch (e) { fail(e); }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = document.getElementById("totp-enrol-code").value;
    try {
      await api("POST", "/api/totp/enrol/finish", { enrolment, code });
      flashAfterReload("Authenticator app added. After your password, type the code it shows.");
      window.location.reload();
    } catch (e) { fail(e); }
  });
}

function initSecurity() {
  showFlash();
  signalAccepted();
  document.getElementById("add-passkey").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!webauthnSupported()) { show("This browser does not support passkeys.", true); return; }
    const name = document.getElementById("new-passkey-name").value.trim();
    try {
      const saved = await registerPasskey(name);
      flashAfterReload("Passkey \u201c" + (saved.displayName || "passkey") + "\u201d added.");
      window.location.reload();
    } catch (e) { fail(e); }
  });
  initTotpEnrolment();
  document.querySelectorAll("form.rename").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const displayName = form.querySelector("input").value.trim();
      try {
        await api("POST", "/api/passkeys/" + form.dataset.id + "/rename", { displayName });
        flashAfterReload("Passkey renamed to \u201c" + displayName + "\u201d.");
        window.location.reload();
      } catch (e) { fail(e); }
    });
  });
  document.querySelectorAll("button.delete").forEach((btn) => {
    btn.addEventListener("click", async () => {
      if (!window.confirm("Delete this passkey? It will no longer sign you in.")) return;
      try {
        await api("DELETE", "/api/passkeys/" + btn.dataset.id);
        flashAfterReload("Passkey deleted.");
        window.location.reload();
      } catch (e) { fail(e); }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "signin") initSignIn();
  else if (page === "tap") initTap();
  else if (page === "security") initSecurity();
  else if (page === "setup") initSetup();
});
