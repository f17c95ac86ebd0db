"use strict";
// "Talk to your receptionist": the browser plays Twilio's part of a media stream. It sends the
// microphone as 8 kHz mu-law media frames, plays the media it gets back in order, echoes each mark once
// the audio before it has played, and on `clear` drops what is queued and echoes the pending marks:
// exactly what Twilio does, so the receptionist behaves as it does on the phone.
(function () {
  const root = document.getElementById("test-call");
  const form = document.getElementById("test-call-form");
  if (!root || !form) return;
  const startButton = document.getElementById("test-call-start");
  const hangUpButton = document.getElementById("test-call-hangup");
  const keypad = document.getElementById("test-call-keypad");
  const statusLine = document.getElementById("test-call-status");
  const review = document.getElementById("test-call-review");
  const LINE_RATE = 8000;
  const ENDINGS = {
    1000: "The call has ended.",
    4303: "The receptionist transferred the call to your front desk. On the phone, the caller would now be ringing through.",
    4401: "The call's pass had expired before it connected. Start a new call.",
    4410: "The call had already ended.",
  };

  let call = null;

  function say(text) { statusLine.textContent = text; }

  function ulawToFloat(byte) {
    const u = ~byte & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
    return (u & 0x80 ? -magnitude : magnitude) / 32768;
  }

  function base64ToBytes(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function bytesToBase64(bytes) {
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw);
  }

  function sid(prefix) { return prefix + crypto.randomUUID().replace(/-/g, ""); }

  class Stream {
    constructor(details, audio, microphone) {
      this.details = details;
      this.audio = audio;
      this.microphone = microphone;
      this.streamSid = sid("MZ");
      this.sequence = 0;
      this.chunk = 0;
      this.playhead = 0;
      this.playing = new Set();
      this.pendingMarks = [];
      this.ended = false;
    }

    send(message) {
      if (this.socket.readyState !== WebSocket.OPEN) return;
      this.sequence += 1;
      this.socket.send(JSON.stringify({ sequenceNumber: String(this.sequence), ...message }));
    }

    open() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      this.socket = new WebSocket(`${scheme}//${location.host}${this.details.stream_path}`);
      this.socket.onopen = () => this.started();
      this.socket.onmessage = (event) => this.received(JSON.parse(event.data));
      this.socket.onclose = (event) => this.closed(event.code);
    }

    started() {
      this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
      this.send({
        event: "start",
        streamSid: this.streamSid,
        start: {
          streamSid: this.streamSid,
          accountSid: "",
          callSid: this.details.call_sid,
          tracks: ["inbound"],
          mediaFormat: { encoding: "audio/x-mulaw", sampleRate: LINE_RATE, channels: 1 },
          customParameters: { token: this.details.token, callSid: this.details.call_sid },
        },
      });
      this.line = new AudioWorkletNode(this.audio, "phone-line");
      this.line.port.onmessage = (event) => this.sendAudio(event.data);
      this.source = this.audio.createMediaStreamSource(this.microphone);
      this.source.connect(this.line);
      say("Connected: speak to your receptionist.");
      hangUpButton.disabled = false;
      keypad.hidden = false;
    }

    sendAudio(frame) {
      this.chunk += 1;
      this.send({
        event: "media",
        streamSid: this.streamSid,
        media: { track: "inbound", chunk: String(this.chunk), timestamp: String(this.chunk * 20), payload: bytesToBase64(frame) },
      });
    }

    received(message) {
      if (message.event === "media") this.play(base64ToBytes(message.media.payload));
      else if (message.event === "mark") this.markAfterPlaying(message.mark.name);
      else if (message.event === "clear") this.clear();
    }

    play(bytes) {
      const buffer = this.audio.createBuffer(1, bytes.length, LINE_RATE);
      const samples = buffer.getChannelData(0);
      for (let i = 0; i < bytes.length; i++) samples[i] = ulawToFloat(bytes[i]);
      const node = this.audio.createBufferSource();
      node.buffer = buffer;
      node.connect(this.audio.destination);
      this.playhead = Math.max(this.playhead, this.audio.currentTime);
      node.start(this.playhead);
      this.playhead += buffer.duration;
      this.playing.add(node);
      node.onended = () => this.playing.delete(node);
    }

    markAfterPlaying(name) {
      const wait = Math.max(0, this.playhead - this.audio.currentTime) * 1000;
      const mark = { name };
      mark.timer = setTimeout(() => {
        this.pendingMarks = this.pendingMarks.filter((m) => m !== mark);
        this.echoMark(name);
      }, wait);
      this.pendingMarks.push(mark);
    }

    echoMark(name) { this.send({ event: "mark", streamSid: this.streamSid, mark: { name } }); }

    clear() {
      this.playing.forEach((node) => node.stop());
      this.playing.clear();
      this.playhead = this.audio.currentTime;
      const pending = this.pendingMarks;
      this.pendingMarks = [];
      pending.forEach((mark) => { clearTimeout(mark.timer); this.echoMark(mark.name); });
    }

    dtmf(digit) { this.send({ event: "dtmf", streamSid: this.streamSid, dtmf: { track: "inbound_track", digit } }); }

    hangUp() {
      this.send({ event: "stop", streamSid: this.streamSid, stop: { accountSid: "", callSid: this.details.call_sid } });
      this.socket.close(1000);
    }

    closed(code) {
      if (this.ended) return;
      this.ended = true;
      this.pendingMarks.forEach((mark) => clearTimeout(mark.timer));
      this.microphone.getTracks().forEach((track) => track.stop());
      // Let the receptionist's last words finish playing before the sound stops.
      const remaining = Math.max(0, this.playhead - this.audio.currentTime) * 1000;
      setTimeout(() => this.audio.close(), remaining);
      say(ENDINGS[code] || `The call ended (code ${code}).`);
      review.querySelector("a").href = this.details.review_url;
      review.hidden = false;
      startButton.disabled = false;
      hangUpButton.disabled = true;
      keypad.hidden = true;
      call = null;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (call) return;
    startButton.disabled = true;
    review.hidden = true;
    // Created inside the click, so the browser lets it play sound.
    const audio = new AudioContext();
    let microphone = null;
    const giveUp = (message) => {
      if (microphone) microphone.getTracks().forEach((track) => track.stop());
      audio.close();
      startButton.disabled = false;
      say(message);
    };
    try {
      microphone = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      giveUp("This page needs your microphone: allow it in the browser, then start the call again.");
      return;
    }
    // Loaded before the call opens: once the stream has started, the microphone must be on the line at once.
    try {
      await audio.audioWorklet.addModule(root.dataset.workletUrl);
    } catch (error) {
      giveUp("This browser could not prepare the microphone for the call. Reload the page and try again.");
      return;
    }
    say("Calling…");
    let response;
    try {
      response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    } catch (error) {
      giveUp("The server could not be reached. Check the connection and start the call again.");
      return;
    }
    const details = await response.json().catch(() => ({}));
    if (!response.ok) {
      giveUp(details.error || `The call could not start (${response.status}).`);
      return;
    }
    call = new Stream(details, audio, microphone);
    call.open();
  });

  hangUpButton.addEventListener("click", () => { if (call) call.hangUp(); });
  keypad.addEventListener("click", (event) => {
    const digit = event.target.dataset && event.target.dataset.digit;
    if (call && digit) call.dtmf(digit);
  });
})();
