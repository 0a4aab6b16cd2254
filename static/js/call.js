// The video call in the session room: WebRTC between the coach and the client, with
// signalling (offer, answer, ICE candidates) relayed by the application through polling.
// The coach makes the offers; whoever arrives, or comes back after a refresh, says "hello",
// and the coach answers a hello with a fresh offer, so a reload or a dropped line reconnects.
(function () {
  "use strict";
  var configElement = document.getElementById("call-config");
  if (!configElement) return;
  var config = JSON.parse(configElement.textContent);
  var csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"];

  var call = document.getElementById("call");
  var remoteVideo = document.getElementById("remote-video");
  var localVideo = document.getElementById("local-video");
  var waiting = document.getElementById("call-waiting");
  var statusText = document.getElementById("call-status");
  var problemBox = document.getElementById("call-problem");
  var problemText = document.getElementById("call-problem-text");
  var micButton = document.getElementById("toggle-mic");
  var cameraButton = document.getElementById("toggle-camera");
  var remoteOff = document.getElementById("remote-off");
  var remoteMuted = document.getElementById("remote-muted");
  var localOff = document.getElementById("local-off");

  var peer = null;
  var localStream = null;
  var queuedCandidates = [];
  var lastId = config.lastSignalId;
  var polling = true;
  var leaving = false;

  var remoteMedia = { video: true, audio: true };

  function setState(state, text) {
    call.dataset.state = state;
    if (text) statusText.textContent = text;
    waiting.hidden = state === "connected";
    showRemoteMedia();
  }

  // A camera turned off shows the person's name, not a black frame; a muted microphone says so.
  function showRemoteMedia() {
    var connected = call.dataset.state === "connected";
    remoteOff.hidden = !connected || remoteMedia.video;
    remoteMuted.hidden = !connected || remoteMedia.audio;
  }

  function ownMedia() {
    return {
      video: cameraButton.getAttribute("aria-pressed") !== "true" && !!localStream &&
        localStream.getVideoTracks().length > 0,
      audio: micButton.getAttribute("aria-pressed") !== "true" && !!localStream &&
        localStream.getAudioTracks().length > 0,
    };
  }

  function sendMedia() { return send("media", ownMedia()); }

  function showProblem(text) {
    problemText.textContent = text;
    problemBox.hidden = !text;
  }

  // Over the page's socket while it is connected; otherwise (and for a closing tab's "bye",
  // which must outlive the page) over HTTP.
  function send(kind, data, keepalive) {
    if (!keepalive && window.hseSend && window.hseSend({ type: "signal", kind: kind, data: data || {} })) {
      return Promise.resolve();
    }
    return fetch(config.signalsUrl, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ kind: kind, data: data || {} }),
    });
  }

  function closePeer() {
    if (!peer) return;
    peer.onicecandidate = peer.ontrack = peer.onconnectionstatechange = null;
    peer.close();
    peer = null;
  }

  function newPeer() {
    closePeer();
    queuedCandidates = [];
    peer = new RTCPeerConnection({ iceServers: config.iceServers });
    if (localStream) {
      localStream.getTracks().forEach(function (track) { peer.addTrack(track, localStream); });
    } else {
      peer.addTransceiver("audio", { direction: "recvonly" });
      peer.addTransceiver("video", { direction: "recvonly" });
    }
    peer.onicecandidate = function (event) {
      if (event.candidate) send("candidate", event.candidate.toJSON());
    };
    peer.ontrack = function (event) {
      if (remoteVideo.srcObject !== event.streams[0]) remoteVideo.srcObject = event.streams[0];
    };
    var current = peer;
    peer.onconnectionstatechange = function () {
      if (peer !== current) return;
      var state = current.connectionState;
      if (state === "connected") {
        setState("connected");
        showProblem("");
        sendMedia(); // a newcomer or a rejoiner learns whether the camera is on
      } else if (state === "disconnected") {
        setState("reconnecting", "The connection to " + config.otherName + " dropped. Reconnecting…");
      } else if (state === "failed") {
        setState("failed", "Cannot reach " + config.otherName + ".");
        showProblem("We cannot reach " + config.otherName + ". Check your connection; the call " +
          "reconnects when either of you rejoins. If it does not work, report the problem.");
        if (config.role === "coach") offer();
      }
    };
    return peer;
  }

  async function flushCandidates() {
    var waitingCandidates = queuedCandidates;
    queuedCandidates = [];
    for (var i = 0; i < waitingCandidates.length; i++) {
      try { await peer.addIceCandidate(waitingCandidates[i]); } catch (error) { /* an old offer's */ }
    }
  }

  async function offer() {
    newPeer();
    await peer.setLocalDescription(await peer.createOffer());
    await send("offer", { type: "offer", sdp: peer.localDescription.sdp });
  }

  async function handle(signal) {
    if (signal.kind === "hello") {
      if (config.role === "coach") {
        await offer();
      } else {
        newPeer();
        await send("hello"); // "I am here too": the coach offers
      }
    } else if (signal.kind === "offer" && config.role === "client") {
      newPeer();
      await peer.setRemoteDescription(signal.data);
      await flushCandidates();
      await peer.setLocalDescription(await peer.createAnswer());
      await send("answer", { type: "answer", sdp: peer.localDescription.sdp });
    } else if (signal.kind === "answer" && config.role === "coach") {
      if (!peer || peer.signalingState !== "have-local-offer") return;
      await peer.setRemoteDescription(signal.data);
      await flushCandidates();
    } else if (signal.kind === "candidate") {
      if (!peer || !peer.remoteDescription) queuedCandidates.push(signal.data);
      else await peer.addIceCandidate(signal.data);
    } else if (signal.kind === "media") {
      remoteMedia = { video: !!signal.data.video, audio: !!signal.data.audio };
      showRemoteMedia();
    } else if (signal.kind === "bye") {
      closePeer();
      remoteVideo.srcObject = null;
      remoteMedia = { video: true, audio: true };
      setState("waiting", config.otherName + " left the call. They can rejoin at any time.");
    }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Signals are handled one at a time, in order, each once, whether the page's socket
  // (static/js/live.js) brought it or the polling did.
  var queue = Promise.resolve();
  var seen = {};
  function take(signal) {
    queue = queue.then(async function () {
      // Pushed signals may arrive out of id order (two sent at once): each is taken once.
      if (seen[signal.id] || (signal.id <= config.lastSignalId)) return;
      seen[signal.id] = true;
      lastId = Math.max(lastId, signal.id);
      try { await handle(signal); } catch (error) { console.warn("signal", signal.kind, error); }
    });
    return queue;
  }

  async function fetchSignals() {
    var response = await fetch(config.signalsUrl + "?after=" + lastId, { credentials: "same-origin" });
    if (response.status === 404) { polling = false; return; } // the room closed
    var body = await response.json();
    for (var i = 0; i < body.signals.length; i++) await take(body.signals[i]);
  }

  document.body.addEventListener("hse:signal", function (event) {
    var signal = event.detail;
    if (polling && signal.sender !== config.me) take(signal);
  });
  // Connected (again): what came meanwhile is read once; then the socket brings the rest.
  document.body.addEventListener("hse:live", function () {
    if (polling) fetchSignals().catch(function () {});
  });

  async function poll() {
    while (polling) {
      if (!window.hseLive) {
        try {
          await fetchSignals();
        } catch (error) {
          setState("reconnecting", "Connection to HSE lost. Retrying…");
        }
      }
      await sleep(700);
    }
  }

  function toggle(button, kind, onLabel, offLabel) {
    button.addEventListener("click", function () {
      if (!localStream) return;
      var tracks = kind === "audio" ? localStream.getAudioTracks() : localStream.getVideoTracks();
      var off = button.getAttribute("aria-pressed") !== "true";
      tracks.forEach(function (track) { track.enabled = !off; });
      button.setAttribute("aria-pressed", off ? "true" : "false");
      button.textContent = off ? offLabel : onLabel;
      if (kind === "video") localOff.hidden = !off;
      sendMedia();
    });
  }

  toggle(micButton, "audio", "Mute", "Unmute");
  toggle(cameraButton, "video", "Camera off", "Camera on");
  // Leave posts to the server, which tells the other side at once (a bye).
  document.querySelectorAll("form[data-leave]").forEach(function (form) {
    form.addEventListener("submit", function () { leaving = true; polling = false; closePeer(); });
  });
  window.addEventListener("pagehide", function () {
    polling = false;
    if (!leaving) send("bye", {}, true); // a closed tab or a reload: the other side waits
    closePeer();
  });

  // The camera and microphone picked in the lobby's check (static/js/devices.js), if any.
  function chosenDevices() {
    var stored = {};
    try { stored = JSON.parse(localStorage.getItem("hse.devices") || "{}"); } catch (error) { /* none */ }
    return {
      audio: stored.audio ? { deviceId: { ideal: stored.audio } } : true,
      video: stored.video ? { deviceId: { ideal: stored.video } } : true,
    };
  }

  async function start() {
    setState("starting", "Starting your camera…");
    try {
      localStream = await navigator.mediaDevices.getUserMedia(chosenDevices());
      localVideo.srcObject = localStream;
    } catch (error) {
      micButton.disabled = cameraButton.disabled = true;
      showProblem("Your camera or microphone is blocked or missing, so " + config.otherName +
        " cannot see or hear you. Allow them for this site in the browser's address bar and " +
        "reload the page. You can still see and hear " + config.otherName + ".");
    }
    setState("waiting", "Waiting for " + config.otherName + " to join the call…");
    if (config.role === "client") newPeer();
    await send("hello");
    poll();
  }

  start();
})();
