// The lobby's camera and microphone check: a preview, a level that moves as you speak, and
// the devices to use, remembered in this browser for the call (static/js/call.js reads them).
(function () {
  "use strict";
  var box = document.getElementById("device-check");
  if (!box || !navigator.mediaDevices) return;
  var button = document.getElementById("device-test");
  var video = document.getElementById("device-video");
  var cameraSelect = document.getElementById("device-camera");
  var microphoneSelect = document.getElementById("device-microphone");
  var level = document.getElementById("device-level");
  var status = document.getElementById("device-status");
  var stream = null;
  var audioContext = null;
  var frame = 0;

  function stored() {
    try { return JSON.parse(localStorage.getItem("hse.devices") || "{}"); } catch (error) { return {}; }
  }

  function remember() {
    localStorage.setItem("hse.devices", JSON.stringify({
      video: cameraSelect.value || undefined, audio: microphoneSelect.value || undefined,
    }));
  }

  function stop() {
    cancelAnimationFrame(frame);
    if (audioContext) { audioContext.close(); audioContext = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
  }

  function fill(select, devices, kind, current) {
    select.innerHTML = "";
    devices.filter(function (device) { return device.kind === kind; }).forEach(function (device, index) {
      var option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || (kind === "videoinput" ? "Camera " : "Microphone ") + (index + 1);
      option.selected = device.deviceId === current;
      select.appendChild(option);
    });
    select.disabled = select.options.length === 0;
  }

  function meter(source) {
    audioContext = new AudioContext();
    var analyser = audioContext.createAnalyser();
    analyser.fftSize = 512;
    audioContext.createMediaStreamSource(source).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    (function draw() {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i] - 128) / 128);
      level.value = peak;
      frame = requestAnimationFrame(draw);
    })();
  }

  async function test() {
    stop();
    var chosen = stored();
    status.textContent = "Asking the browser for your camera and microphone…";
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: chosen.video ? { deviceId: { exact: chosen.video } } : true,
        audio: chosen.audio ? { deviceId: { exact: chosen.audio } } : true,
      });
    } catch (error) {
      status.textContent = "Your camera or microphone is blocked or missing. Allow them for this " +
        "site in the browser's address bar and test again. You can still join and see and hear " +
        "the other person.";
      box.dataset.state = "failed";
      return;
    }
    video.srcObject = stream;
    meter(stream);
    var devices = await navigator.mediaDevices.enumerateDevices();
    fill(cameraSelect, devices, "videoinput", stream.getVideoTracks()[0].getSettings().deviceId);
    fill(microphoneSelect, devices, "audioinput", stream.getAudioTracks()[0].getSettings().deviceId);
    remember();
    status.textContent = "Your camera and microphone work: speak and the level moves.";
    box.dataset.state = "ok";
    button.textContent = "Test again";
  }

  button.addEventListener("click", test);
  [cameraSelect, microphoneSelect].forEach(function (select) {
    select.addEventListener("change", function () { remember(); test(); });
  });
  window.addEventListener("pagehide", stop);
})();
