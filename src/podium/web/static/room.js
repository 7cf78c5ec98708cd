// The meeting room: our signaling WebSocket (docs/protocol/signaling.md) for presence and chat, and
// janus.js (Debian's libjs-janus-gateway) against the conference's VideoRoom for audio and video.
(function () {
  "use strict";
  const lobby = document.getElementById("lobby");
  if (!lobby) return;
  const $ = (id) => document.getElementById(id);
  const state = { entry: null, janus: null, publisher: null, feeds: {}, socket: null, audioOn: true, videoOn: true,
                  joined: false, people: new Map() };
  // What tests and curious people can read: the subscriber handles and their received bytes.
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
  };

  // janus.js reads browser details from webrtc-adapter; this page ships a minimal stand-in.
  if (!window.adapter) {
    const chrome = /Chrome\/(\d+)/.exec(navigator.userAgent);
    const firefox = /Firefox\/(\d+)/.exec(navigator.userAgent);
    window.adapter = { browserDetails: chrome ? { browser: "chrome", version: +chrome[1] }
      : firefox ? { browser: "firefox", version: +firefox[1] } : { browser: "safari", version: 605 } };
  }

  const joinButton = $("join");
  if (lobby.dataset.media === "yes" && window.Janus) joinButton.disabled = false;

  function fail(message) {
    const box = $("join-error");
    box.textContent = message;
    box.hidden = false;
    joinButton.disabled = false;
  }

  function status(text) { $("room-status").textContent = text; }

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
      socket.send(JSON.stringify({ type: "hello", version: 1, key: state.resumeKey || entry.socket_key }));
      state.ping = setInterval(() => socket.readyState === 1 && socket.send(JSON.stringify({ type: "ping" })),
                               10000);
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "welcome") {
        state.joined = true;
        state.me = message.you;
        state.resumeKey = message.key || state.resumeKey;
        state.reconnects = 0;
        state.people.clear();
        showRecording(Boolean(message.recording));
        showStreaming(message.streaming || null);
        message.participants.forEach((p) => state.people.set(p.id, p));
        renderPeople();
      } else if (message.type === "waiting") {
        status("Waiting for a moderator to let you in");
      } else if (message.type === "knocking") {
        state.people.set(message.participant.id, message.participant); renderPeople();
      } else if (message.type === "admitted") {
        state.entry.token = message.token;
        state.entry.waiting = false;
        status("Connecting…");
        startMedia(state.entry);
      } else if (message.type === "muted") {
        if (state.publisher) state.publisher.muteAudio();
        state.audioOn = false;
        $("toggle-audio").textContent = "Unmute";
        status("You were muted by " + message.by);
        addChat("System", "You were muted by " + message.by, true);
      } else if (message.type === "removed") {
        hangUp(false);
        status("You were removed from the meeting by " + message.by);
        addChat("System", "You were removed from the meeting by " + message.by, true);
        state.removed = true;
      } else if (message.type === "joined") {
        state.people.set(message.participant.id, message.participant); renderPeople();
      } else if (message.type === "left") {
        state.people.delete(message.participant.id); renderPeople();
      } else if (message.type === "chat") {
        addChat(message.from, message.text, message.system);
      } else if (message.type === "ended") {
        hangUp(false);
        status("The meeting has ended");
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
      } else if (message.type === "question") {
        // Viewers of the streaming page ask; moderators see it here.
        addChat("Question from " + message.from, message.text, false);
      } else if (message.type === "error") {
        status(message.message);
      }
    };
    socket.onclose = (event) => {
      clearInterval(state.ping);
      // The server process may have gone (another one answers the same address): reconnect, unless
      // the close was final — ended 4000, removed 4001, replaced 4002, refused 44xx — or ours.
      if (state.socket !== socket || state.hungUp || (event.code >= 4000 && event.code < 4500)) return;
      state.reconnects = (state.reconnects || 0) + 1;
      if (state.reconnects > 10) { status("The connection to the meeting was lost"); return; }
      setTimeout(() => openSocket(entry), Math.min(1000 * state.reconnects, 5000));
    };
  }

  // Everyone sees that the meeting is being recorded; moderators start and stop it.
  function showRecording(on) {
    state.recording = on;
    $("recording-indicator").hidden = !on;
    const button = $("toggle-recording");
    button.textContent = on ? "Stop recording" : "Start recording";
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // Everyone sees that the meeting is streamed live (and where); moderators start and stop it.
  function showStreaming(stream) {
    state.streaming = stream;
    const indicator = $("streaming-indicator");
    indicator.hidden = !stream;
    if (stream && stream.url) $("streaming-link").href = stream.url;
    const button = $("toggle-streaming");
    button.textContent = stream ? "Stop streaming" : "Start streaming";
    button.setAttribute("aria-pressed", stream ? "true" : "false");
  }

  function command(type, id) {
    if (state.socket && state.socket.readyState === 1) state.socket.send(JSON.stringify({ type: type, id: id }));
  }

  function renderPeople() {
    const list = $("people");
    const moderator = state.entry && state.entry.moderator;
    list.replaceChildren(...[...state.people.values()].map((p) => {
      const item = document.createElement("li");
      item.dataset.id = p.id;
      item.textContent = `${p.name} (${p.waiting ? "waiting" : p.role})`;
      if (moderator && state.me && p.id !== state.me.id) {
        const actions = p.waiting ? [["admit", "Admit"]] : [["mute", "Mute"], ["remove", "Remove"]];
        for (const [type, label] of actions) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "small " + type;
          button.textContent = label;
          button.addEventListener("click", () => command(type, p.id));
          item.append(" ", button);
        }
      }
      return item;
    }));
  }

  function addChat(from, text, system) {
    const item = document.createElement("li");
    if (system) item.className = "system";
    const who = document.createElement("strong");
    who.textContent = from + ": ";
    item.append(who, document.createTextNode(text));
    $("chat-log").append(item);
  }

  const guestForm = $("guest-form");
  if (guestForm) guestForm.addEventListener("submit", (event) => { event.preventDefault(); joinButton.click(); });

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (text && state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify({ type: "chat", text: text }));
      input.value = "";
    }
  });

  // --- media ------------------------------------------------------------------------------------
  function startMedia(entry) {
    Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(), callback: () => {
      state.janus = new Janus({ server: entry.janus_url, token: entry.token,
        success: attachPublisher,
        error: (error) => status("Media connection failed: " + error),
        destroyed: () => {} });
    } });
  }

  function attachPublisher() {
    const entry = state.entry;
    state.janus.attach({ plugin: "janus.plugin.videoroom", opaqueId: "podium-" + Janus.randomString(8),
      success: (handle) => {
        state.publisher = handle;
        handle.send({ message: { request: "join", ptype: "publisher", room: entry.room, display: entry.display } });
      },
      error: (error) => status("Media error: " + error),
      onmessage: (message, jsep) => {
        const event = message.videoroom;
        if (event === "joined") {
          status("Connected");
          state.publisherId = message.id;
          // Events can be missed (a publisher announced while we were still negotiating): look again.
          state.resync = setInterval(resync, 3000);
          if (state.entry.may_publish) publishOwnFeed();
          else status("Connected — only moderators are seen and heard (presentation)");
          (message.publishers || []).forEach(subscribe);
        } else if (event === "event") {
          (message.publishers || []).forEach(subscribe);
          const gone = message.leaving || message.unpublished;
          if (gone && gone !== "ok") dropFeed(gone);
        }
        if (jsep) state.publisher.handleRemoteJsep({ jsep: jsep });
      },
      onlocaltrack: (track, on) => {
        if (track.kind !== "video" || !on) return;
        $("local-video").srcObject = new MediaStream([track]);
      },
    });
  }

  function resync() {
    if (!state.publisher) return;
    state.publisher.send({ message: { request: "listparticipants", room: state.entry.room },
      success: (result) => {
        (result && result.participants || [])
          .filter((p) => p.publisher && p.id !== state.publisherId)
          .forEach((p) => subscribe({ id: p.id, display: p.display }));
      } });
  }

  function publishOwnFeed() {
    state.publisher.createOffer({
      tracks: [{ type: "audio", capture: true, recv: false }, { type: "video", capture: true, recv: false }],
      success: (jsep) => {
        state.publisher.send({ message: { request: "configure", audio: true, video: true }, jsep: jsep });
        // Tell our server which publisher is ours, so moderation (and presentation mode) can act on it.
        if (state.socket && state.socket.readyState === 1) {
          state.socket.send(JSON.stringify({ type: "media", publisher: state.publisherId }));
        }
        if (state.entry.start_muted) {
          state.publisher.muteAudio();
          state.audioOn = false;
          $("toggle-audio").textContent = "Unmute";
        }
      },
      error: (error) => status("Camera or microphone unavailable: " + (error.message || error)),
    });
  }

  function subscribe(publisher) {
    if (state.feeds[publisher.id]) return;
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
        let tile = document.getElementById("tile-" + feed.id);
        if (!tile) {
          tile = document.createElement("figure");
          tile.className = "tile remote";
          tile.id = "tile-" + feed.id;
          const video = document.createElement("video");
          video.autoplay = true; video.playsInline = true;
          video.srcObject = feed.stream;
          const caption = document.createElement("figcaption");
          caption.textContent = feed.display || "Guest";
          tile.append(video, caption);
          $("videos").append(tile);
        }
      },
    });
  }

  function dropFeed(id) {
    const feed = state.feeds[id];
    if (!feed) return;
    if (feed.handle) feed.handle.detach();
    delete state.feeds[id];
    const tile = document.getElementById("tile-" + id);
    if (tile) tile.remove();
  }

  // --- controls -------------------------------------------------------------------------------
  $("toggle-audio").addEventListener("click", () => {
    if (!state.publisher) return;
    state.audioOn = !state.audioOn;
    state.audioOn ? state.publisher.unmuteAudio() : state.publisher.muteAudio();
    $("toggle-audio").textContent = state.audioOn ? "Mute" : "Unmute";
  });
  $("toggle-video").addEventListener("click", () => {
    if (!state.publisher) return;
    state.videoOn = !state.videoOn;
    state.videoOn ? state.publisher.unmuteVideo() : state.publisher.muteVideo();
    $("toggle-video").textContent = state.videoOn ? "Stop camera" : "Start camera";
  });
  // Sharing replaces the camera with the screen (and back); the server is told, so a recording gives
  // the screen the stage while it lasts.
  function tellSharing() {
    if (state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify({ type: "screen", on: Boolean(state.sharing) }));
    }
  }
  $("share-screen").addEventListener("click", () => {
    if (!state.publisher) return;
    const sharing = !state.sharing;
    state.publisher.replaceTracks({ tracks: [{ type: sharing ? "screen" : "video", capture: true, mid: "1" }],
      success: () => {
        state.sharing = sharing;
        $("share-screen").textContent = sharing ? "Stop sharing" : "Share screen";
        tellSharing();
      },
      error: (error) => status("Screen sharing failed: " + (error.message || error)) });
  });
  $("leave").addEventListener("click", () => hangUp(true));
  $("end-meeting").addEventListener("click", () => command("end", null));
  $("toggle-streaming").addEventListener("click", () => {
    if (state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify({ type: "stream", on: !state.streaming }));
    }
  });
  $("toggle-recording").addEventListener("click", () => {
    if (state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify({ type: "record", on: !state.recording }));
    }
  });

  function hangUp(byMe) {
    state.hungUp = true;
    clearInterval(state.resync);
    if (byMe && state.socket && state.socket.readyState === 1) state.socket.send(JSON.stringify({ type: "leave" }));
    if (state.socket) state.socket.close();
    if (state.janus) state.janus.destroy();
    $("videos").querySelectorAll(".tile.remote").forEach((tile) => tile.remove());
    status(byMe ? "You left the meeting" : "The meeting has ended");
  }
})();
