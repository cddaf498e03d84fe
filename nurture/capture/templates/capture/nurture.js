/* Nurture website tracking. <script src="{{ origin }}/t/nurture.js" async [data-consent="required"]></script> */
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  var base = new URL(script.src).origin;
  var endpoint = base + {{ collect_path|safe }};
  var needsConsent = script.getAttribute("data-consent") === "required";
  var ID_COOKIE = "_nurture_aid", CONSENT_COOKIE = "_nurture_consent";
  var BATCH = 20, MAX_BATCH = 50, FLUSH_MS = 5000;
  var queue = [], timer = null;
  var queued = Array.isArray(w.nurture) ? w.nurture : [];  // calls made before this script loaded
  var n = navigator;
  var dnt = n.doNotTrack === "1" || w.doNotTrack === "1" || n.msDoNotTrack === "1" || n.globalPrivacyControl === true;

  function cookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function setCookie(name, value, days) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; max-age=" + days * 86400 + "; path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function consented() { return !needsConsent || cookie(CONSENT_COOKIE) === "1"; }
  function allowed() { return !dnt && consented(); }
  function newId() {
    var bytes = new Uint8Array(16);
    (w.crypto || w.msCrypto).getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function anonymousId() {
    if (!allowed()) { return ""; }
    var id = cookie(ID_COOKIE);
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) { id = newId(); }
    setCookie(ID_COOKIE, id, 395);  // a first-party cookie, renewed on every visit
    return id;
  }

  function send(useBeacon) {
    clearTimeout(timer);
    timer = null;
    if (!queue.length || !allowed()) { return; }
    while (queue.length) {
      var events = queue.splice(0, MAX_BATCH);
      var body = JSON.stringify({ anonymous_id: anonymousId(), sent_at: Date.now(), consent: consented(), events: events });
      // text/plain keeps it a simple request: no CORS preflight, and sendBeacon accepts it.
      var blob = new Blob([body], { type: "text/plain" });
      if (useBeacon && n.sendBeacon && n.sendBeacon(endpoint, blob)) { continue; }
      fetch(endpoint, { method: "POST", body: blob, keepalive: true, credentials: "omit", mode: "cors" })
        .catch(function () {});
    }
  }
  function push(event) {
    if (dnt) { return; }
    event.ts = Date.now();
    queue.push(event);
    // Before consent events wait in this page's memory only: nothing is stored or sent.
    if (!consented()) { return; }
    if (queue.length >= BATCH || event.type === "identify") { send(false); }
    else if (!timer) { timer = setTimeout(function () { send(false); }, FLUSH_MS); }
  }

  function utm() {
    var params = new URLSearchParams(location.search), out = {}, found = false;
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = params.get("utm_" + k);
      if (v) { out[k] = v.slice(0, 200); found = true; }
    });
    return found ? out : undefined;
  }
  var lastUrl = "";
  function page() {
    if (location.href === lastUrl) { return; }
    var referrer = lastUrl || d.referrer;
    lastUrl = location.href;
    push({ type: "page", url: location.href.slice(0, 2000), title: d.title.slice(0, 300),
           referrer: referrer.slice(0, 2000), utm: utm() });
  }

  // Nurture's own forms on this page (the embed script's iframe) and links to them carry the visitor's id,
  // so a submission stitches the history to the contact.
  function decorateForms() {
    var id = anonymousId();
    if (!id) { return; }
    d.querySelectorAll("iframe[data-nurture-form]").forEach(function (frame) {
      var u = new URL(frame.src);
      if (u.searchParams.get("aid") !== id) { u.searchParams.set("aid", id); frame.src = u.toString(); }
    });
    d.querySelectorAll('a[href^="' + base + '/f/"]').forEach(function (a) {
      var u = new URL(a.href);
      u.searchParams.set("aid", id);
      a.href = u.toString();
    });
  }

  var api = {
    anonymousId: anonymousId,
    page: page,
    identify: function (traits) { push({ type: "identify", traits: traits || {} }); },
    consent: function (granted) {
      if (granted) {
        setCookie(CONSENT_COOKIE, "1", 395);
        decorateForms();
        send(false);
      } else {
        queue = [];
        d.cookie = CONSENT_COOKIE + "=; max-age=0; path=/";
        d.cookie = ID_COOKIE + "=; max-age=0; path=/";
      }
    },
    flush: function () { send(false); }
  };
  w.nurture = api;

  page();
  queued.forEach(function (call) { api[call[0]].apply(null, call.slice(1)); });
  var pushState = history.pushState;
  history.pushState = function () { pushState.apply(history, arguments); page(); };
  w.addEventListener("popstate", page);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") { send(true); } });
  w.addEventListener("pagehide", function () { send(true); });
  if (d.readyState === "loading") { d.addEventListener("DOMContentLoaded", decorateForms); } else { decorateForms(); }
})(window, document);
