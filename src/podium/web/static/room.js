// The lobby and the meeting room: our signaling WebSocket (docs/protocol/signaling.md) for presence,
// chat, raised hands and people's microphone/camera state, and janus.js (Debian's libjs-janus-gateway)
// against the conference's VideoRoom for audio and video, and for who is talking (its audio-level
// events). Plain JS, no framework.
(function () {
  "use strict";
  const lobby = document.getElementById("lobby");
  if (!lobby) return;
  const $ = (id) => document.getElementById(id);
  const state = {
    entry: null, janus: null, publisher: null, feeds: {}, socket: null, audioOn: true, videoOn: true,
    joined: false, people: new Map(),
    phones: new Map(),      // phone call id -> {id, name, status, muted}: the meeting's dial-outs
    states: new Map(),      // socket key -> {publisher, audio, video, screen, hand, participant}
    talking: new Set(),     // publisher ids Janus says are talking
    pinned: null,           // tile id kept on the stage
    hand: false, unread: 0, welcomes: 0, mediaSessions: 0,
    local: { stream: null, audio: null, video: null, level: 0 },
    devices: { camera: "", mic: "", speaker: "" },
  };
  // What tests and curious people can read.
  window.podium = {
    state: state,
    async inboundVideoBytes() {
      let total = 0;
      for (const feed of Object.values(state.feeds)) {
        const pc = feed.handle && feed.handle.webrtcStuff && feed.handle.webrtcStuff.pc;
        if (!pc) continue;
        const report = await pc.getStats();
        report.forEach((stat) => {
          if (stat.type === "inbound-rtp" && stat.kind === "video") total += stat.bytesReceived || 0;
        });
      }
      return total;
    },
    remoteCount() { return document.querySelectorAll(".tile.remote video").length; },
    speakers() {
      return [...document.querySelectorAll(".tile.speaking .name")].map((n) => n.textContent);
    },
    socketOpen() { return Boolean(state.socket && state.socket.readyState === 1 && state.joined); },
  };

  // janus.js reads browser details from webrtc-adapter; this page ships a minimal stand-in.
  if (!window.adapter) {
    const chrome = /Chrome\/(\d+)/.exec(navigator.userAgent);
    const firefox = /Firefox\/(\d+)/.exec(navigator.userAgent);
    window.adapter = { browserDetails: chrome ? { browser: "chrome", version: +chrome[1] }
      : firefox ? { browser: "firefox", version: +firefox[1] } : { browser: "safari", version: 605 } };
  }

  const joinButton = $("join");
  const mediaAvailable = lobby.dataset.media === "yes" && Boolean(window.Janus);
  if (mediaAvailable) joinButton.disabled = false;

  function fail(message) {
    const box = $("join-error");
    box.textContent = message;
    box.hidden = false;
    joinButton.disabled = false;
  }

  function status(text) { $("room-status").textContent = text; }
  function notice(text) { const box = $("notice"); box.textContent = text || ""; box.hidden = !text; }
  let toastTimer = null;
  function toast(text) {
    const box = $("toast");
    box.textContent = text; box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }
  function setLabel(button, text) {
    const label = button.querySelector(".label");
    (label || button).textContent = text;
  }
  function icon(name, cls, label) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    if (cls) svg.setAttribute("class", cls);
    if (label) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label); }
    else svg.setAttribute("aria-hidden", "true");
    const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "#i-" + name);
    svg.append(use);
    return svg;
  }
  function send(message) {
    if (!state.socket || state.socket.readyState !== 1) return false;
    state.socket.send(JSON.stringify(message));
    return true;
  }
  // Something the person asked for (a mute, a removal, a recording…): while the socket is down it is
  // not kept for later — the room may have changed by the time it is back — the person is told.
  function act(message) {
    if (send(message)) return true;
    toast("Not connected: try again once reconnected");
    return false;
  }

  // --- lobby: preview, devices, level meter -----------------------------------------------------
  function deviceMessage(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "Camera and microphone are blocked. Allow them for this site in your browser (the camera " +
        "icon in the address bar) and reload, or join without them to watch and chat.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "No camera or microphone was found. You can still join to watch, listen and chat.";
    }
    if (name === "NotReadableError") return "Your camera or microphone is in use by another application.";
    return "Your camera and microphone cannot be used: " + ((error && error.message) || error);
  }

  function showDeviceError(text) {
    // The lobby's box, and the room's devices dialog (the same device lists move there).
    for (const box of [$("device-error"), $("devices-error")]) { box.textContent = text || ""; box.hidden = !text; }
  }

  async function getMedia(audio, video) {
    const constraints = {
      audio: audio ? (state.devices.mic ? { deviceId: { exact: state.devices.mic } } : true) : false,
      video: video ? (state.devices.camera ? { deviceId: { exact: state.devices.camera } } : true) : false,
    };
    if (!constraints.audio && !constraints.video) return new MediaStream();
    return navigator.mediaDevices.getUserMedia(constraints);
  }

  // The camera and microphone, as the lobby shows them: both if possible, else what there is.
  async function acquire(wantAudio, wantVideo) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showDeviceError("This browser cannot use a camera or microphone here (a secure https:// address is needed).");
      return;
    }
    let stream = null;
    let firstError = null;
    for (const [a, v] of [[wantAudio, wantVideo], [wantAudio, false], [false, wantVideo]]) {
      if (!a && !v) continue;
      try { stream = await getMedia(a, v); break; } catch (error) {
        firstError = firstError || error;
        if (error.name === "NotAllowedError" || error.name === "SecurityError") break;
      }
    }
    if (!stream) { showDeviceError(deviceMessage(firstError)); return; }
    const audio = stream.getAudioTracks()[0] || null;
    const video = stream.getVideoTracks()[0] || null;
    if (wantAudio && !audio) showDeviceError("No microphone was found: you will join without sound.");
    else if (wantVideo && !video) showDeviceError("No camera was found: you will join without video.");
    else showDeviceError("");
    if (wantVideo && !video) showLobbyVideo(false);  // joins with the camera off (it can start later)
    if (audio) useAudio(audio);
    if (video) useVideo(video);
    state.hadCamera = Boolean(video);
    await listDevices();
  }

  function useVideo(track) {
    if (state.local.video && state.local.video !== track) state.local.video.stop();
    state.local.video = track;
    $("preview-video").srcObject = track ? new MediaStream([track]) : null;
    $("preview-off").hidden = Boolean(track && state.videoOn);
  }

  let meter = null;
  function useAudio(track) {
    if (state.local.audio && state.local.audio !== track) state.local.audio.stop();
    state.local.audio = track;
    track.enabled = state.audioOn;
    if (!window.AudioContext) return;
    if (!meter) {
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 512;
      meter = { context: context, analyser: analyser, source: null, data: new Float32Array(512) };
      const resume = () => context.state === "suspended" && context.resume();
      document.addEventListener("pointerdown", resume);
      document.addEventListener("keydown", resume);
      setInterval(measure, 100);
    }
    if (meter.source) meter.source.disconnect();
    meter.source = meter.context.createMediaStreamSource(new MediaStream([track]));
    meter.source.connect(meter.analyser);
  }

  // The microphone level (RMS, 0-100), for the lobby's meter and our own tile.
  function measure() {
    const track = state.local.audio;
    let level = 0;
    if (track && track.enabled && track.readyState === "live") {
      meter.analyser.getFloatTimeDomainData(meter.data);
      let sum = 0;
      for (const v of meter.data) sum += v * v;
      level = Math.min(100, Math.round(Math.sqrt(sum / meter.data.length) * 300));
    }
    state.local.level = Math.max(level, Math.floor(state.local.level * 0.7));
    if (!lobby.hidden) {
      $("mic-level").style.width = state.local.level + "%";
      $("mic-meter").setAttribute("aria-valuenow", String(state.local.level));
    }
  }

  async function listDevices() {
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (error) { return; }
    const fill = (select, kind, current, none) => {
      const found = devices.filter((d) => d.kind === kind && d.deviceId);
      select.replaceChildren(...found.map((d, i) => {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || `${none} ${i + 1}`;
        return option;
      }));
      if (!found.length) {
        const option = document.createElement("option");
        option.value = ""; option.textContent = kind === "audiooutput" ? "System default" : "None found";
        select.append(option);
      }
      if (current && found.some((d) => d.deviceId === current)) select.value = current;
      select.disabled = found.length < 2;
    };
    fill($("camera-select"), "videoinput", state.local.video && state.local.video.getSettings().deviceId, "Camera");
    fill($("mic-select"), "audioinput", state.local.audio && state.local.audio.getSettings().deviceId, "Microphone");
    fill($("speaker-select"), "audiooutput", state.devices.speaker, "Speaker");
    if (!("setSinkId" in HTMLMediaElement.prototype)) $("speaker-select").disabled = true;
  }

  // A device chosen in the lobby, or in the room (its new track replaces the one we send).
  $("camera-select").addEventListener("change", async (event) => {
    state.devices.camera = event.target.value;
    if (!state.videoOn) return;
    try {
      // The new track is sent before the old one stops (the encoder then carries on).
      const track = (await getMedia(false, true)).getVideoTracks()[0];
      const sender = state.published && !state.sharing ? videoSender() : null;
      if (sender) await sender.replaceTrack(track);
      useVideo(track);
      if (sender) $("local-video").srcObject = new MediaStream([track]);
      showDeviceError("");
    } catch (error) { showDeviceError(deviceMessage(error)); }
  });
  $("mic-select").addEventListener("change", async (event) => {
    state.devices.mic = event.target.value;
    try {
      const track = (await getMedia(true, false)).getAudioTracks()[0];
      track.enabled = state.audioOn;
      const sender = state.published ? senderOf("audio") : null;
      if (sender) await sender.replaceTrack(track);
      useAudio(track);
      showDeviceError("");
    } catch (error) { showDeviceError(deviceMessage(error)); }
  });
  $("speaker-select").addEventListener("change", (event) => {
    state.devices.speaker = event.target.value;
    document.querySelectorAll(".tile.remote video").forEach(applySpeaker);
  });
  function applySpeaker(video) {
    if (state.devices.speaker && video.setSinkId) video.setSinkId(state.devices.speaker).catch(() => {});
  }

  $("lobby-audio").addEventListener("click", () => {
    state.audioOn = !state.audioOn;
    if (state.local.audio) state.local.audio.enabled = state.audioOn;
    const button = $("lobby-audio");
    button.setAttribute("aria-pressed", String(state.audioOn));
    button.setAttribute("aria-label", state.audioOn ? "Microphone on (click to join muted)" : "Microphone off (click to turn on)");
    button.querySelector("use").setAttribute("href", state.audioOn ? "#i-mic" : "#i-mic-off");
  });
  function showLobbyVideo(on) {
    state.videoOn = on;
    const button = $("lobby-video");
    button.setAttribute("aria-pressed", String(on));
    button.setAttribute("aria-label", on ? "Camera on (click to join without video)" : "Camera off (click to turn on)");
    button.querySelector("use").setAttribute("href", on ? "#i-cam" : "#i-cam-off");
  }
  $("lobby-video").addEventListener("click", async () => {
    showLobbyVideo(!state.videoOn);
    if (!state.videoOn) {
      if (state.local.video) { state.local.video.stop(); state.local.video = null; }  // the camera light goes off
      useVideo(null);
    } else {
      try { useVideo((await getMedia(false, true)).getVideoTracks()[0]); } catch (error) { showDeviceError(deviceMessage(error)); }
    }
  });

  // Kept: joining waits for it. A click on Join while the camera and microphone are still being
  // opened (a slow machine, a permission prompt not answered yet) published nothing before, and the
  // person stayed silent and invisible all meeting (and missing from its recording).
  state.acquiring = mediaAvailable ? acquire(true, true).catch(() => {}) : Promise.resolve();

  // --- joining ---------------------------------------------------------------------------------
  joinButton.addEventListener("click", async () => {
    const nameInput = $("display-name");
    const name = nameInput ? nameInput.value.trim() : "";
    if (nameInput && !name) { fail("Please give your name"); return; }
    joinButton.disabled = true;
    let response;
    try {
      response = await fetch("/rooms/enter", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ ticket: lobby.dataset.ticket, name: name }) });
    } catch (error) { fail("The server cannot be reached"); return; }
    const entry = await response.json();
    if (!response.ok) { fail(entry.message || "You cannot join this meeting"); return; }
    state.entry = entry;
    lobby.hidden = true;
    $("room").hidden = false;
    $("end-meeting").hidden = !entry.moderator;
    $("toggle-recording").hidden = !entry.moderator;
    $("toggle-streaming").hidden = !entry.moderator;
    if (entry.start_muted) state.audioOn = false;
    if (window.matchMedia("(min-width: 1000px)").matches) { openPanel("people", true); openPanel("chat", true); }
    else renderPanels();
    $("tile-local").querySelector(".name").textContent = (entry.display || "You") + " (you)";
    showOwnState();
    layout();
    openSocket(entry);
    if (entry.waiting) status("Waiting for a moderator to let you in");
    else startMedia(entry);
  });

  // --- signaling -------------------------------------------------------------------------------
  function openSocket(entry) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/rooms/ws`);
    state.socket = socket;
    socket.onopen = () => {
      // After a reconnect, the key the last welcome gave (the entry's lasts 10 minutes).
      const hello = { type: "hello", version: 1, key: state.resumeKey || entry.socket_key };
      if (state.welcomes) hello.resume = true;
      socket.send(JSON.stringify(hello));
      clearInterval(state.ping);
      state.ping = setInterval(() => socket.readyState === 1 && socket.send(JSON.stringify({ type: "ping" })),
                               10000);
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "welcome") {
        const again = state.welcomes > 0;
        state.welcomes += 1;
        state.joined = true;
        state.me = message.you;
        state.resumeKey = message.key || state.resumeKey;
        state.reconnects = 0;
        state.people.clear();
        state.states.clear();
        showRecording(Boolean(message.recording));
        showStreaming(message.streaming || null);
        message.participants.forEach((p) => state.people.set(p.id, p));
        state.phones.clear();
        (message.phones || []).forEach((p) => state.phones.set(p.id, p));
        renderPeople();
        if (again) {
          notice(state.mediaLost ? "Reconnecting to the media server…" : "");
          addChat("System", "Reconnected", true);
        }
        // This connection knows nothing of us yet: our publisher, screen and state. (A reconnect's
        // is new; and on joining, our media can be up before this socket opened, when what we told
        // was not sent.)
        if (state.publisherId && state.published) send({ type: "media", publisher: state.publisherId });
        if (state.sharing) tellSharing();
        // Our media session may have lost its token meanwhile: check it, and join again if needed.
        if (again && state.janus && !state.janus.isConnected()) mediaLost();
        sendOwnState();
      } else if (message.type === "waiting") {
        status("Waiting for a moderator to let you in");
      } else if (message.type === "knocking") {
        state.people.set(message.participant.id, message.participant); renderPeople();
        toast(message.participant.name + " is waiting to be let in");
      } else if (message.type === "admitted") {
        state.entry.token = message.token;
        state.entry.waiting = false;
        status("Connecting…");
        startMedia(state.entry);
      } else if (message.type === "muted") {
        setAudio(false, false);
        status("You were muted by " + message.by);
        addChat("System", "You were muted by " + message.by, true);
      } else if (message.type === "hand-lowered") {
        state.hand = false; showOwnState();
        toast("Your hand was lowered by " + message.by);
      } else if (message.type === "removed") {
        hangUp(false, "You were removed from the meeting by " + message.by);
        addChat("System", "You were removed from the meeting by " + message.by, true);
        state.removed = true;
      } else if (message.type === "joined") {
        state.people.set(message.participant.id, message.participant); renderPeople();
      } else if (message.type === "left") {
        state.people.delete(message.participant.id);
        state.states.delete(message.participant.id);
        renderPeople(); renderTiles();
      } else if (message.type === "state") {
        noteState(message);
      } else if (message.type === "states") {
        message.states.forEach((s) => noteState(s, true));
        renderPeople(); renderTiles();
      } else if (message.type === "chat") {
        addChat(message.from, message.text, message.system);
        if (!message.system && !panelOpen("chat") && message.from !== (state.me && state.me.name)) {
          state.unread += 1; renderPanels();
        }
      } else if (message.type === "ended") {
        hangUp(false, "The meeting has ended");
      } else if (message.type === "recording") {
        showRecording(Boolean(message.on));
        if (message.on && state.sharing) tellSharing();  // a share already on takes the new recording's stage
        addChat("System", message.on ? "Recording started" : "Recording stopped", true);
      } else if (message.type === "streaming") {
        const was = Boolean(state.streaming);
        showStreaming(message.on ? Object.assign({}, state.streaming || {}, message) : null);
        if (message.on && !was) addChat("System", "Live stream started", true);
        if (!message.on && was) {
          addChat("System", message.failure ? "Live stream failed: " + message.failure : "Live stream stopped", true);
        }
      } else if (message.type === "phone") {
        // A dial-out rings, answers, is muted or ends: ended calls leave the list.
        const call = message.phone;
        if (["ended", "busy", "no_answer", "failed"].includes(call.status)) state.phones.delete(call.id);
        else state.phones.set(call.id, call);
        renderPeople();
      } else if (message.type === "question") {
        // Viewers of the streaming page ask; moderators see it here.
        addChat("Question from " + message.from, message.text, false);
      } else if (message.type === "error") {
        status(message.message);
      }
    };
    socket.onclose = (event) => {
      clearInterval(state.ping);
      // The network dropped or the server process went (another one answers the same address):
      // reconnect with backoff, unless the close was final — ended 4000, removed 4001, replaced 4002,
      // refused 44xx — or ours.
      if (state.socket !== socket || state.hungUp || (event.code >= 4000 && event.code < 4500)) return;
      state.joined = false;
      state.reconnects = (state.reconnects || 0) + 1;
      if (state.reconnects > 30) {
        notice("The connection to the meeting was lost. Check your network and reload the page.");
        return;
      }
      notice("Connection lost — reconnecting…");
      const delay = Math.min(500 * 2 ** Math.min(state.reconnects - 1, 5), 10000) * (0.8 + Math.random() * 0.4);
      setTimeout(() => openSocket(entry), delay);
    };
  }

  // Someone's microphone, camera, screen share and hand, as their page reported them.
  function noteState(message, quiet) {
    const id = message.participant && message.participant.id;
    if (!id) return;
    const before = state.states.get(id);
    state.states.set(id, message);
    if (!state.people.has(id)) state.people.set(id, message.participant);
    const moderator = state.entry && state.entry.moderator;
    if (!quiet && moderator && message.hand && !(before && before.hand) && !(state.me && id === state.me.id)) {
      toast(message.participant.name + " raised a hand");
    }
    if (!quiet) { renderPeople(); renderTiles(); }
  }

  function stateOfPublisher(publisher) {
    for (const s of state.states.values()) if (s.publisher === publisher) return s;
    return null;
  }

  function sendOwnState() {
    if (state.entry && state.entry.waiting) return;  // not in the room yet (admitted: sent with the media)
    send({ type: "state", audio: state.audioOn, video: state.videoOn, hand: state.hand });
  }

  // Everyone sees that the meeting is being recorded; moderators start and stop it.
  function showRecording(on) {
    state.recording = on;
    $("recording-indicator").hidden = !on;
    const button = $("toggle-recording");
    setLabel(button, on ? "Stop recording" : "Start recording");
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // Everyone sees that the meeting is streamed live (and where); moderators start and stop it.
  function showStreaming(stream) {
    state.streaming = stream;
    const indicator = $("streaming-indicator");
    indicator.hidden = !stream;
    if (stream && stream.url) $("streaming-link").href = stream.url;
    const button = $("toggle-streaming");
    setLabel(button, stream ? "Stop streaming" : "Start streaming");
    button.setAttribute("aria-pressed", stream ? "true" : "false");
  }

  function command(type, id) { act({ type: type, id: id }); }

  function renderPeople() {
    const list = $("people");
    const moderator = state.entry && state.entry.moderator;
    const people = [...state.people.values()];
    list.replaceChildren(...people.map((p) => {
      const item = document.createElement("li");
      item.dataset.id = p.id;
      const s = state.states.get(p.id);
      const who = document.createElement("span");
      who.className = "who";
      const mine = state.me && p.id === state.me.id;
      who.textContent = `${p.name}${mine ? " (you)" : ""} (${p.waiting ? "waiting" : p.role})`;
      item.append(who);
      if (s && s.hand) item.append(icon("hand", "hand", "hand raised"));
      if (s && s.audio === false) item.append(icon("mic-off", "mic-off", "muted"));
      if (moderator && state.me && !mine) {
        const actions = p.waiting ? [["admit", "Admit"]] : [["mute", "Mute"], ["remove", "Remove"]];
        if (s && s.hand) actions.unshift(["lower", "Lower hand"]);
        for (const [type, label] of actions) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "small " + type;
          button.textContent = label;
          button.setAttribute("aria-label", `${label} ${p.name}`);
          button.addEventListener("click", () => command(type, p.id));
          item.append(button);
        }
      }
      return item;
    }), ...[...state.phones.values()].map((call) => {
      // A phone dialled into the meeting: its state, and the moderators' mute and hang-up.
      const item = document.createElement("li");
      item.className = "phone";
      item.dataset.phone = call.id;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = `\u260E ${call.name} (phone, ${call.status.replace("_", " ")})`;
      item.append(who);
      if (call.muted) item.append(icon("mic-off", "mic-off", "muted"));
      if (moderator) {
        const actions = [[call.muted ? "unmute" : "mute", call.muted ? "Unmute" : "Mute"], ["hangup", "Hang up"]];
        for (const [action, label] of actions) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "small phone-" + action;
          button.textContent = label;
          button.setAttribute("aria-label", `${label} ${call.name}`);
          button.addEventListener("click", () => act({ type: "phone", id: call.id, action: action }));
          item.append(button);
        }
      }
      return item;
    }));
    $("people-count").textContent = `(${people.filter((p) => !p.waiting).length + state.phones.size})`;
    // Moderators see the raised hands in the order they went up.
    const hands = [...state.states.values()].filter((s) => s.hand && state.people.has(s.participant.id))
      .sort((a, b) => a.hand - b.hand);
    const queue = $("hand-queue");
    queue.replaceChildren(...hands.map((s) => {
      const item = document.createElement("li");
      item.dataset.id = s.participant.id;
      item.append(icon("hand"), document.createTextNode(s.participant.name));
      return item;
    }));
    $("hand-queue-box").hidden = !(moderator && hands.length);
    const count = $("hand-count");
    count.hidden = !(moderator && hands.length);
    count.textContent = String(hands.length);
    $("toggle-people").setAttribute("aria-label", moderator && hands.length
      ? `People (${hands.length} raised ${hands.length === 1 ? "hand" : "hands"})` : "People");
  }

  function addChat(from, text, system) {
    const item = document.createElement("li");
    if (system) item.className = "system";
    const who = document.createElement("strong");
    who.textContent = from + ": ";
    item.append(who, document.createTextNode(text));
    const log = $("chat-log");
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  const guestForm = $("guest-form");
  if (guestForm) guestForm.addEventListener("submit", (event) => { event.preventDefault(); joinButton.click(); });

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (text && act({ type: "chat", text: text })) input.value = "";  // else kept, to send again
  });

  // --- side panels -------------------------------------------------------------------------------
  const panels = { people: false, chat: false };
  function panelOpen(name) { return panels[name] && !$("room").hidden; }
  function openPanel(name, open) {
    panels[name] = open === undefined ? !panels[name] : open;
    if (name === "chat" && panels.chat) state.unread = 0;
    renderPanels();
    if (name === "chat" && panels.chat && document.activeElement === $("toggle-chat")) $("chat-input").focus();
  }
  function renderPanels() {
    $("people-panel").hidden = !panels.people;
    $("chat-panel").hidden = !panels.chat;
    $("side").hidden = !panels.people && !panels.chat;
    $("toggle-people").setAttribute("aria-pressed", String(panels.people));
    $("toggle-chat").setAttribute("aria-pressed", String(panels.chat));
    const unread = $("chat-unread");
    unread.hidden = !state.unread;
    unread.textContent = String(state.unread);
    $("toggle-chat").setAttribute("aria-label", state.unread ? `Chat (${state.unread} unread)` : "Chat");
    layout();
  }
  $("toggle-people").addEventListener("click", () => openPanel("people"));
  $("toggle-chat").addEventListener("click", () => openPanel("chat"));

  // --- the stage: tiles and their layout ------------------------------------------------------------
  function initials(name) {
    return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  }

  function makeTile(feed) {
    const tile = document.createElement("figure");
    tile.className = "tile remote";
    tile.id = "tile-" + feed.id;
    tile.dataset.publisher = String(feed.id);
    const video = document.createElement("video");
    video.autoplay = true; video.playsInline = true;
    video.srcObject = feed.stream;
    applySpeaker(video);
    const avatar = document.createElement("span");
    avatar.className = "avatar"; avatar.setAttribute("aria-hidden", "true");
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "name";
    caption.append(name, icon("mic-off", "mic-off", "muted"), icon("hand", "hand", "hand raised"));
    const pin = document.createElement("button");
    pin.type = "button"; pin.className = "pin"; pin.setAttribute("aria-pressed", "false");
    pin.append(icon("pin"));
    tile.append(video, avatar, caption, pin);
    wireTile(tile);
    $("videos").append(tile);
    return tile;
  }

  function wireTile(tile) {
    tile.querySelector(".pin").addEventListener("click", (event) => { event.stopPropagation(); pin(tile.id); });
    tile.addEventListener("dblclick", () => pin(tile.id));
  }
  wireTile($("tile-local"));

  function pin(tileId) {
    state.pinned = state.pinned === tileId ? null : tileId;
    renderTiles();
  }

  // Names, mute state, hands, talking and screen shares on the tiles; then the layout.
  function renderTiles() {
    for (const tile of document.querySelectorAll("#videos .tile")) {
      const local = tile.id === "tile-local";
      const publisher = local ? state.publisherId : Number(tile.dataset.publisher);
      const s = local ? null : stateOfPublisher(publisher);
      const feed = local ? null : state.feeds[publisher];
      const name = local ? ((state.entry && state.entry.display) || "You") + " (you)"
        : (s && s.participant.name) || (feed && feed.display) || "Guest";
      const audio = local ? state.audioOn : !(s && s.audio === false);
      const video = local ? (state.videoOn || state.sharing) && Boolean(state.local.video || state.sharing)
        : !(s && s.video === false) || Boolean(s && s.screen);
      tile.querySelector(".name").textContent = name;
      tile.querySelector(".avatar").textContent = initials(name.replace(/ \(you\)$/, ""));
      tile.classList.toggle("muted", !audio);
      tile.classList.toggle("no-video", !video);
      tile.classList.toggle("hand-up", local ? state.hand : Boolean(s && s.hand));
      tile.classList.toggle("screen", local ? Boolean(state.sharing) : Boolean(s && s.screen));
      tile.classList.toggle("speaking", publisher != null && state.talking.has(publisher) && audio);
      const pinButton = tile.querySelector(".pin");
      pinButton.setAttribute("aria-pressed", String(state.pinned === tile.id));
      pinButton.setAttribute("aria-label", (state.pinned === tile.id ? "Unpin " : "Pin ") + name);
      tile.setAttribute("aria-label", name);
    }
    layout();
  }

  // A grid that fills the stage: the column count that gives the largest tiles (each between 3:4 and
  // 16:9); a pinned tile or a screen share takes the stage, the others in a strip below it.
  function layout() {
    const stage = $("stage");
    const W = stage.clientWidth, H = stage.clientHeight;
    if (!W || !H) return;
    const tiles = [...document.querySelectorAll("#videos .tile")];
    if (state.pinned && !document.getElementById(state.pinned)) state.pinned = null;
    const focus = (state.pinned && document.getElementById(state.pinned)) ||
      tiles.find((t) => t.classList.contains("screen") && t.classList.contains("remote")) ||
      tiles.find((t) => t.classList.contains("screen"));
    const gap = 8;
    const place = (tile, x, y, w, h) => {
      tile.style.left = x + "px"; tile.style.top = y + "px";
      tile.style.width = w + "px"; tile.style.height = h + "px";
    };
    tiles.forEach((t) => t.classList.toggle("main", t === focus));
    stage.classList.toggle("focused", Boolean(focus));
    if (focus && tiles.length > 1) {
      const others = tiles.filter((t) => t !== focus);
      const stripH = Math.max(60, Math.min(140, H * 0.2));
      place(focus, 0, 0, W, H - stripH - gap);
      const w = Math.min(stripH * 16 / 9, (W - gap * (others.length - 1)) / others.length);
      const x0 = (W - (w * others.length + gap * (others.length - 1))) / 2;
      others.forEach((t, i) => place(t, x0 + i * (w + gap), H - stripH, w, stripH));
      return;
    }
    const n = tiles.length;
    let best = null;
    for (let cols = 1; cols <= n; cols += 1) {
      const rows = Math.ceil(n / cols);
      const cw = (W - gap * (cols - 1)) / cols, ch = (H - gap * (rows - 1)) / rows;
      let w = cw, h = ch;
      if (w / h > 16 / 9) w = h * 16 / 9;
      if (w / h < 3 / 4) h = w * 4 / 3;
      if (!best || w * h > best.w * best.h + 1) best = { cols: cols, rows: rows, w: w, h: h };
    }
    const { cols, rows, w, h } = best;
    const y0 = (H - (rows * h + (rows - 1) * gap)) / 2;
    tiles.forEach((tile, i) => {
      const row = Math.floor(i / cols);
      const inRow = row === rows - 1 ? n - row * cols : cols;
      const x0 = (W - (inRow * w + (inRow - 1) * gap)) / 2;
      place(tile, x0 + (i % cols) * (w + gap), y0 + row * (h + gap), w, h);
    });
  }
  if (window.ResizeObserver) new ResizeObserver(() => layout()).observe($("stage"));
  else window.addEventListener("resize", layout);

  // --- media ------------------------------------------------------------------------------------
  let janusReady = null;
  function startMedia(entry) {
    if (!janusReady) {
      janusReady = new Promise((resolve) => Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(),
                                                          callback: resolve }));
    }
    janusReady.then(() => connectMedia(entry));
  }

  function connectMedia(entry) {
    clearTimeout(state.mediaRetry);
    let connected = false;
    const session = new Janus({ server: entry.janus_url, token: entry.token,
      success: () => { connected = true; state.mediaFailures = 0; state.mediaSessions += 1; attachPublisher(); },
      error: (error) => {
        if (state.janus !== session || state.hungUp) return;
        if (connected) { mediaLost(); return; }
        // Never reached: the media server is down or unreachable from this network.
        state.mediaFailures = (state.mediaFailures || 0) + 1;
        const wait = Math.min(2000 * state.mediaFailures, 15000);
        notice(`The media server cannot be reached (${error}). Audio and video will connect when it ` +
               `answers; retrying in ${Math.round(wait / 1000)} s…`);
        status("No audio or video");
        state.mediaRetry = setTimeout(() => connectMedia(entry), wait);
      },
      destroyed: () => {} });
    state.janus = session;
  }

  // The media session is gone (a network drop, the media server restarted, our token revoked while
  // the signaling socket was away): drop what we received and join the room again.
  function mediaLost() {
    if (state.hungUp || state.mediaLost) return;
    state.mediaLost = true;
    notice("Reconnecting to the media server…");
    clearInterval(state.resync);
    const old = state.janus;
    Object.keys(state.feeds).forEach((id) => dropFeed(id));
    state.publisher = null;
    state.published = false;
    state.talking.clear();
    if (old) { state.janus = null; try { old.destroy({ notifyDestroyed: false, cleanupHandles: true }); } catch (e) { /* gone */ } }
    state.mediaRetry = setTimeout(() => { state.mediaLost = false; connectMedia(state.entry); }, 1500);
  }

  function attachPublisher() {
    const entry = state.entry;
    const session = state.janus;
    session.attach({ plugin: "janus.plugin.videoroom", opaqueId: "podium-" + Janus.randomString(8),
      success: (handle) => {
        state.publisher = handle;
        handle.send({ message: { request: "join", ptype: "publisher", room: entry.room, display: entry.display } });
      },
      error: (error) => status("Media error: " + error),
      onmessage: (message, jsep) => {
        const event = message.videoroom;
        if (event === "joined") {
          status("Connected");
          notice("");
          state.publisherId = message.id;
          // Events can be missed (a publisher announced while we were still negotiating): look again.
          clearInterval(state.resync);
          state.resync = setInterval(resync, 3000);
          if (state.entry.may_publish) publishOwnFeed();
          else status("Connected — only moderators are seen and heard (presentation)");
          (message.publishers || []).forEach(subscribe);
        } else if (event === "event") {
          (message.publishers || []).forEach(subscribe);
          const gone = message.leaving || message.unpublished;
          if (gone && gone !== "ok") dropFeed(gone);
          if (message.error_code === 403 || message.error_code === 428) mediaLost();
        } else if (event === "talking" || event === "stopped-talking") {
          if (event === "talking") state.talking.add(message.id); else state.talking.delete(message.id);
          renderTiles();
        }
        if (jsep) state.publisher.handleRemoteJsep({ jsep: jsep });
      },
      onlocaltrack: () => {},  // our tile shows our own tracks (camera or screen)
    });
  }

  function resync() {
    if (!state.publisher) return;
    state.publisher.send({ message: { request: "listparticipants", room: state.entry.room },
      success: (result) => {
        const participants = (result && result.participants) || [];
        participants.filter((p) => p.publisher && p.id !== state.publisherId)
          .forEach((p) => subscribe({ id: p.id, display: p.display }));
        // Talking is told on a change only: who already talks when we arrive is read here.
        let changed = false;
        for (const p of participants) {
          if (typeof p.talking !== "boolean" || p.talking === state.talking.has(p.id)) continue;
          p.talking ? state.talking.add(p.id) : state.talking.delete(p.id);
          changed = true;
        }
        if (changed) renderTiles();
      } });
  }

  // Our tracks from the lobby (a live track is passed as is; one that ended is asked for again).
  async function ensureTracks() {
    await state.acquiring;  // the lobby's camera and microphone, if still being opened
    const live = (t) => t && t.readyState === "live";
    try {
      if (state.local.audio && !live(state.local.audio)) useAudio((await getMedia(true, false)).getAudioTracks()[0]);
      if (state.videoOn && state.local.video && !live(state.local.video)) {
        useVideo((await getMedia(false, true)).getVideoTracks()[0]);
      }
      if (state.videoOn && !state.local.video && state.hadCamera) useVideo((await getMedia(false, true)).getVideoTracks()[0]);
    } catch (error) { status("Camera or microphone unavailable: " + deviceMessage(error)); }
  }

  // A black frame that holds our video's place while the camera is off (the camera light is off too).
  function placeholderTrack() {
    const canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 180;
    canvas.getContext("2d").fillRect(0, 0, 320, 180);
    return canvas.captureStream(1).getVideoTracks()[0];
  }

  // The sender of our audio, or of our video (camera or screen), in the publisher's connection.
  function senderOf(kind) {
    const pc = state.publisher && state.publisher.webrtcStuff && state.publisher.webrtcStuff.pc;
    if (!pc) return null;
    const transceiver = pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === kind);
    return transceiver ? transceiver.sender : null;
  }
  function videoSender() { return senderOf("video"); }

  async function publishOwnFeed() {
    await ensureTracks();
    const tracks = [];
    if (state.local.audio) tracks.push({ type: "audio", capture: state.local.audio, recv: false });
    let placeholder = null;
    if (state.local.video && state.videoOn) tracks.push({ type: "video", capture: state.local.video, recv: false });
    else {
      // No camera running (off, or none at all): a video line all the same, sending nothing once
      // negotiated, so the camera can start later and a screen share can take its place.
      placeholder = placeholderTrack();
      tracks.push({ type: "video", capture: placeholder, recv: false });
    }
    state.publisher.createOffer({
      tracks: tracks,
      success: (jsep) => {
        state.publisher.send({ message: { request: "configure", audio: true, video: true }, jsep: jsep });
        state.published = true;
        // Tell our server which publisher is ours, so moderation (and presentation mode) can act on it.
        send({ type: "media", publisher: state.publisherId });
        if (state.local.audio) state.local.audio.enabled = state.audioOn;
        if (placeholder) {
          const sender = videoSender();
          if (sender) sender.replaceTrack(null).then(() => placeholder.stop());
        }
        if (state.local.video) $("local-video").srcObject = new MediaStream([state.local.video]);
        sendOwnState();
        renderTiles();
      },
      error: (error) => status("Camera or microphone unavailable: " + (error.message || error)),
    });
  }

  function subscribe(publisher) {
    if (state.feeds[publisher.id] || !state.janus) return;
    const feed = { id: publisher.id, display: publisher.display, handle: null, stream: new MediaStream() };
    state.feeds[publisher.id] = feed;
    state.janus.attach({ plugin: "janus.plugin.videoroom", opaqueId: "podium-" + Janus.randomString(8),
      success: (handle) => {
        feed.handle = handle;
        handle.send({ message: { request: "join", ptype: "subscriber", room: state.entry.room,
                                 streams: [{ feed: publisher.id }] } });
      },
      error: () => { delete state.feeds[publisher.id]; },  // the next resync tries again
      onmessage: (message, jsep) => {
        if (message.error) {  // e.g. the feed is not published yet: drop it, the next resync retries
          feed.handle.detach();
          delete state.feeds[publisher.id];
          return;
        }
        if (jsep) {
          feed.handle.createAnswer({ jsep: jsep, tracks: [{ type: "data" }],
            success: (answer) => feed.handle.send({ message: { request: "start", room: state.entry.room },
                                                    jsep: answer }),
            error: (error) => status("Could not receive a participant: " + error) });
        }
      },
      onremotetrack: (track, mid, on) => {
        if (!on) { feed.stream.getTracks().filter((t) => t.id === track.id).forEach((t) => feed.stream.removeTrack(t)); return; }
        feed.stream.addTrack(track);
        if (!document.getElementById("tile-" + feed.id)) { makeTile(feed); renderTiles(); }
      },
    });
  }

  function dropFeed(id) {
    const feed = state.feeds[id];
    if (!feed) return;
    if (feed.handle) { try { feed.handle.detach(); } catch (e) { /* session gone */ } }
    delete state.feeds[id];
    state.talking.delete(Number(id));
    const tile = document.getElementById("tile-" + id);
    if (tile) tile.remove();
    layout();
  }

  // --- controls -------------------------------------------------------------------------------
  function showOwnState() {
    const audio = $("toggle-audio");
    setLabel(audio, state.audioOn ? "Mute" : "Unmute");
    audio.setAttribute("aria-pressed", String(!state.audioOn));
    audio.title = (state.audioOn ? "Mute" : "Unmute") + " (M)";
    audio.querySelector("use").setAttribute("href", state.audioOn ? "#i-mic" : "#i-mic-off");
    const video = $("toggle-video");
    setLabel(video, state.videoOn ? "Stop camera" : "Start camera");
    video.setAttribute("aria-pressed", String(!state.videoOn));
    video.title = (state.videoOn ? "Stop camera" : "Start camera") + " (V)";
    video.querySelector("use").setAttribute("href", state.videoOn ? "#i-cam" : "#i-cam-off");
    const hand = $("raise-hand");
    setLabel(hand, state.hand ? "Lower hand" : "Raise hand");
    hand.setAttribute("aria-pressed", String(state.hand));
    const share = $("share-screen");
    setLabel(share, state.sharing ? "Stop sharing" : "Share screen");
    share.setAttribute("aria-pressed", String(Boolean(state.sharing)));
    renderTiles();
  }

  function setAudio(on, tell) {
    state.audioOn = on;
    if (state.local.audio) state.local.audio.enabled = on;  // the very track we send: silence while muted
    showOwnState();
    if (tell !== false) sendOwnState();
    else send({ type: "state", audio: on });
  }

  $("toggle-audio").addEventListener("click", () => setAudio(!state.audioOn));
  // The camera off stops the camera (its light goes off) and sends nothing; on, it is asked for again.
  async function cameraTrack() {
    if (state.local.video && state.local.video.readyState === "live") return state.local.video;
    useVideo((await getMedia(false, true)).getVideoTracks()[0]);
    state.hadCamera = true;  // a reconnect asks for it again
    return state.local.video;
  }
  $("toggle-video").addEventListener("click", async () => {
    state.videoOn = !state.videoOn;
    try {
      if (!state.videoOn && state.local.video) { state.local.video.stop(); state.local.video = null; }
      const sender = state.published ? videoSender() : null;
      if (sender && !state.sharing) await sender.replaceTrack(state.videoOn ? await cameraTrack() : null);
      else if (state.videoOn && !state.sharing) await cameraTrack();
      if (state.videoOn && state.local.video && !state.sharing) $("local-video").srcObject = new MediaStream([state.local.video]);
    } catch (error) {
      state.videoOn = false;
      status("Camera unavailable: " + deviceMessage(error));
    }
    showOwnState();
    sendOwnState();
  });
  $("raise-hand").addEventListener("click", () => {
    state.hand = !state.hand;
    showOwnState();
    sendOwnState();
  });
  // Sharing replaces the camera with the screen (and back); the server is told, so a recording gives
  // the screen the stage while it lasts, and everyone's page puts it on the stage.
  function tellSharing() { send({ type: "screen", on: Boolean(state.sharing) }); }
  async function toggleShare() {
    const sender = state.published ? videoSender() : null;
    if (!sender) { status("Screen sharing needs a media connection: wait until you are connected"); return; }
    try {
      if (!state.sharing) {
        const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
        const track = stream.getVideoTracks()[0];
        await sender.replaceTrack(track);
        state.screenTrack = track;
        state.sharing = true;
        track.addEventListener("ended", () => { if (state.sharing && state.screenTrack === track) toggleShare(); });
        $("local-video").srcObject = new MediaStream([track]);
      } else {
        const screen = state.screenTrack;
        state.sharing = false;
        state.screenTrack = null;
        let camera = null;
        if (state.videoOn) {
          try { camera = await cameraTrack(); } catch (error) { state.videoOn = false; }  // the camera went
        }
        await sender.replaceTrack(camera);
        if (screen) screen.stop();
        $("local-video").srcObject = state.local.video ? new MediaStream([state.local.video]) : null;
      }
    } catch (error) {
      if (error.name !== "NotAllowedError") status("Screen sharing failed: " + (error.message || error));
      return;
    }
    showOwnState();
    tellSharing();
  }
  $("share-screen").addEventListener("click", toggleShare);
  $("leave").addEventListener("click", () => hangUp(true));
  $("end-meeting").addEventListener("click", () => command("end", null));
  $("toggle-streaming").addEventListener("click", () => act({ type: "stream", on: !state.streaming }));
  $("toggle-recording").addEventListener("click", () => act({ type: "record", on: !state.recording }));
  $("show-help").addEventListener("click", () => $("help-dialog").showModal());
  // The lobby's device lists, moved into the room's dialog: choosing one switches what we send.
  $("show-devices").addEventListener("click", async () => {
    const lists = document.querySelector(".devices");
    if (lists.parentElement !== $("devices-slot")) $("devices-slot").append(lists);
    await listDevices();
    $("devices-dialog").showModal();
  });
  $("rejoin").addEventListener("click", () => location.reload());

  // Keyboard shortcuts (documented in the page's help, "?").
  document.addEventListener("keydown", (event) => {
    if ($("room").hidden || state.hungUp || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if ($("devices-dialog").open || ($("help-dialog").open && event.key !== "?")) return;
    const key = event.key.toLowerCase();
    const click = { m: "toggle-audio", v: "toggle-video", s: "share-screen", h: "raise-hand", c: "toggle-chat",
                    p: "toggle-people" }[key];
    if (click) { event.preventDefault(); $(click).click(); }
    else if (event.key === "?") { event.preventDefault(); $("help-dialog").open ? $("help-dialog").close() : $("help-dialog").showModal(); }
    else if (event.key === "Escape" && state.pinned) { state.pinned = null; renderTiles(); }
  });

  function hangUp(byMe, why) {
    state.hungUp = true;
    clearInterval(state.resync);
    clearTimeout(state.mediaRetry);
    if (byMe) send({ type: "leave" });
    if (state.socket) state.socket.close();
    if (state.janus) state.janus.destroy();
    $("videos").querySelectorAll(".tile.remote").forEach((tile) => tile.remove());
    for (const track of [state.local.audio, state.local.video, state.screenTrack]) if (track) track.stop();
    const text = why || (byMe ? "You left the meeting" : "The meeting has ended");
    status(text);
    notice("");
    $("gone-message").textContent = text;
    $("gone").hidden = false;
    layout();
  }
})();
