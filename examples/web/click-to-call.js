/*
 * examples/web/click-to-call.js: a click-to-call button on the Flashphoner
 * Web SDK (flashphoner.js, loaded by index.html from the WCS server).
 *
 * The page holds no SIP account and no number. It only names a button
 * ("sales") in `custom`; callhook, the WCS REST hook, checks the page's origin
 * at connect, injects the SIP account server side, and at call time replaces
 * the (empty) callee with the number configured for that button.
 */
(function () {
  "use strict";

  /* The WCS WebSocket endpoint (wss, port 8443 by default). */
  var WCS_URL = "wss://wcs.example.com:8443";
  /* If the site registers its SIP account (register_required = true in
   * callhook.conf) WCS reports REGISTERED soon after ESTABLISHED; a site that
   * does not register never does, so the button is enabled after this delay. */
  var REGISTER_WAIT_MS = 3000;

  var SESSION_STATUS, CALL_STATUS;
  var session = null;
  var currentCall = null;
  var registerTimer = null;
  var callWhenReady = false;
  var established = false;
  /* WCS sends the hook's refusal ({"status":403,"reason":"..."} from
   * callhook) in a "fail" message, which the SDK hands to SESSION_STATUS.WARN,
   * before it closes the session or fails the call: kept until then. */
  var refusal = "";
  var el = {};

  function setStatus(text, isError) {
    el.status.textContent = text;
    el.status.className = isError ? "error" : "";
  }

  function setButtons(canCall, canHangup) {
    el.call.disabled = !canCall;
    el.hangup.disabled = !canHangup;
  }

  function buttonName() {
    return el.call.getAttribute("data-button") || "sales";
  }

  /* A reason from the SDK: a call's getInfo(), or the info of WCS's "fail"
   * message ({"status":"FAILED","info":"origin not allowed",...}). */
  function reasonOf(obj) {
    try {
      if (obj && typeof obj.getInfo === "function" && obj.getInfo()) {
        return String(obj.getInfo());
      }
    } catch (e) { /* no info */ }
    if (obj && typeof obj.info === "string") {
      return obj.info;
    }
    return "";
  }

  function takeRefusal() {
    var why = refusal;
    refusal = "";
    return why;
  }

  function sessionReady() {
    if (registerTimer) {
      clearTimeout(registerTimer);
      registerTimer = null;
    }
    if (callWhenReady) {
      callWhenReady = false;
      placeCall();
    } else if (!currentCall) {
      setStatus("Ready");
      setButtons(true, false);
    }
  }

  function connect() {
    setStatus("Connecting…");
    setButtons(false, false);
    established = false;
    refusal = "";
    session = Flashphoner.createSession({
      urlServer: WCS_URL,
      custom: { button: buttonName() }
    });
    session.on(SESSION_STATUS.ESTABLISHED, function () {
      established = true;
      setStatus("Connected…");
      registerTimer = setTimeout(sessionReady, REGISTER_WAIT_MS);
    }).on(SESSION_STATUS.REGISTERED, function () {
      sessionReady();
    }).on(SESSION_STATUS.FAILED, function () {
      var why = takeRefusal();
      session = null;
      callWhenReady = false;
      setStatus("Could not connect" + (why ? ": " + why : "") + ". Try again later.", true);
      setButtons(true, false); /* a click reconnects */
    }).on(SESSION_STATUS.DISCONNECTED, function () {
      var why = takeRefusal();
      session = null;
      callWhenReady = false;
      currentCall = null;
      if (why && !established) {
        setStatus("Could not connect: " + why + ". Try again later.", true);
      } else if (why) {
        setStatus("Disconnected: " + why + ". Press Call to reconnect.", true);
      } else {
        setStatus("Disconnected. Press Call to reconnect.");
      }
      setButtons(true, false);
    }).on(SESSION_STATUS.WARN, function (info) {
      var why = reasonOf(info);
      if (why) {
        refusal = why;
        setStatus(why, true);
      }
    });
  }

  function placeCall() {
    setButtons(false, true); /* the visitor can give up at any moment */
    setStatus("Calling…");
    refusal = "";
    /* No callee here: callhook chooses it from the button name. */
    currentCall = session.createCall({
      callee: "",
      visibleName: "Click to Call",
      localVideoDisplay: el.local,
      remoteVideoDisplay: el.remote,
      constraints: { audio: true, video: false },
      custom: { button: buttonName() }
    });
    currentCall.on(CALL_STATUS.TRYING, function () {
      setStatus("Calling…");
      setButtons(false, true);
    }).on(CALL_STATUS.RING, function () {
      setStatus("Ringing…");
      setButtons(false, true);
    }).on(CALL_STATUS.RING_MEDIA, function () {
      setStatus("Ringing…");
      setButtons(false, true);
    }).on(CALL_STATUS.SESSION_PROGRESS, function () {
      setStatus("Connecting the call…");
      setButtons(false, true);
    }).on(CALL_STATUS.ESTABLISHED, function () {
      setStatus("In call");
      setButtons(false, true);
    }).on(CALL_STATUS.BUSY, function () {
      setStatus("The line is busy. Please try again later.", true);
    }).on(CALL_STATUS.FINISH, function () {
      currentCall = null;
      setStatus("Call ended");
      setButtons(true, false);
    }).on(CALL_STATUS.FAILED, function (c) {
      var why = takeRefusal() || reasonOf(c);
      currentCall = null;
      setStatus("The call failed" + (why ? ": " + why : ""), true);
      setButtons(true, false);
    });
    currentCall.call();
  }

  function onCallClick() {
    if (currentCall) {
      return;
    }
    if (typeof Flashphoner.playFirstSound === "function") {
      Flashphoner.playFirstSound(); /* unlocks audio output on iOS Safari */
    }
    if (!session) {
      callWhenReady = true; /* the session was lost: reconnect, then call */
      connect();
      return;
    }
    placeCall();
  }

  function onHangupClick() {
    if (currentCall) {
      setStatus("Hanging up…");
      el.hangup.disabled = true;
      currentCall.hangup();
    }
  }

  function start() {
    el.call = document.getElementById("callBtn");
    el.hangup = document.getElementById("hangupBtn");
    el.status = document.getElementById("status");
    el.local = document.getElementById("localDisplay");
    el.remote = document.getElementById("remoteDisplay");
    if (typeof Flashphoner === "undefined") {
      setStatus("The call service is unavailable (flashphoner.js did not load).", true);
      return;
    }
    try {
      Flashphoner.init({});
    } catch (e) {
      setStatus("This browser cannot place calls (no WebRTC).", true);
      return;
    }
    SESSION_STATUS = Flashphoner.constants.SESSION_STATUS;
    CALL_STATUS = Flashphoner.constants.CALL_STATUS;
    el.call.addEventListener("click", onCallClick);
    el.hangup.addEventListener("click", onHangupClick);
    connect();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
