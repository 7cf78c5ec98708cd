// The watch page: starts a view session (password, registration, preview or free), plays the signed
// HLS stream with hls.js, keeps the playback token fresh through heartbeats that also report the
// time watched, enforces the preview on the page (the server enforces it too) and shows the watermark.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const ACCESS_KEY = "podium.access";

  // A subscription link carries its password in the fragment (never sent to a server): keep it for
  // the media pages of the subscription, then take it out of the address bar.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("access")) {
    sessionStorage.setItem(ACCESS_KEY, fragment.get("access"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const root = $("watch");
  if (!root) return;

  // An embed may carry the buyer's access password as `id_recovery` (Boomstream's sign-in link): it
  // signs in as if typed. Taken out of the address bar like the fragment's, once read.
  const query = new URLSearchParams(location.search);
  const recovery = (query.get("id_recovery") || "").trim();
  if (query.has("id_recovery")) {
    query.delete("id_recovery");
    const rest = query.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  // "yes": start by itself (muted if the browser wants it); "no": wait for the viewer; "": try.
  const autostart = root.dataset.autostart || "";

  const code = root.dataset.code;
  // A live plays while its encoder is on air; before that the page waits and tries again.
  const isLive = root.dataset.live === "yes";
  const LIVE_RETRY_MS = 3000;
  const video = $("player");
  const state = { session: null, key: null, token: null, liveToken: null, src: null, hls: null, watched: 0, lastTick: null,
                  timer: null, preview: 0, downloadable: false, stopped: false, heartbeats: 0 };
  window.podium = { state: state };

  function deviceId() {
    let id = localStorage.getItem("podium.device");
    if (!id || !/^[0-9a-f]{32}$/.test(id)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("podium.device", id);
    }
    return id;
  }

  function status(text) { $("watch-status").textContent = text; }
  function showError(text) {
    const box = $("watch-error");
    box.textContent = text;
    box.hidden = !text;
  }
  function showUnlock(visible) {
    const unlock = $("unlock");
    if (unlock) unlock.hidden = !visible;
  }

  function withToken(url) {
    if (state.liveToken) url = url.replace(/\/live\/[^/]+\//, "/live/" + state.liveToken + "/");
    return state.token ? url.replace(/\/play\/[^/]+\//, "/play/" + state.token + "/") : url;
  }

  async function post(path, body, keepalive) {
    const response = await fetch(path, { method: "POST", keepalive: !!keepalive,
      headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }

  // `auto`: not asked for by a click (a free video, or an id_recovery link, on load).
  async function start(body, auto) {
    showError("");
    let answer;
    try {
      answer = await post("/watch/" + encodeURIComponent(code) + "/session", Object.assign({ device: deviceId() }, body));
    } catch (error) { showError("The server cannot be reached"); return false; }
    if (!answer.ok && isLive && answer.status === 409) {
      // not_ready: the live is not on air yet (or any more); play as soon as it is.
      status((answer.data.message || "This live is not on air") + ". Playback starts when it goes on air.");
      setTimeout(() => start(body, auto), LIVE_RETRY_MS);
      return true;
    }
    if (!answer.ok) { showError(answer.data.message || "You cannot watch this video"); return false; }
    const data = answer.data;
    stopPlayback();
    Object.assign(state, { session: data.session, key: data.key, token: data.token, src: data.src,
                           liveToken: data.live_token || null,
                           preview: data.preview_seconds || 0, downloadable: data.downloadable, stopped: false });
    const password = body.password || body.id_recovery;
    if (password) sessionStorage.setItem(ACCESS_KEY, password);
    showUnlock(!!state.preview);
    root.classList.toggle("previewing", !!state.preview);
    status(state.preview ? "Preview: the first " + state.preview + " seconds" : "");
    watermark(data.watermark);
    play(data.src, auto);
    state.timer = setInterval(heartbeat, (data.heartbeat_seconds || 10) * 1000);
    return true;
  }

  function play(src, auto) {
    if (window.Hls && window.Hls.isSupported()) {
      const options = {
        // Every request uses the freshest token: an old one expires within a couple of minutes.
        xhrSetup: (xhr, url) => { xhr.open("GET", withToken(url), true); },
      };
      if (isLive) {
        // A live (1-s segments): play two segments behind the newest, speed up a little to catch up
        // after a stall, and jump ahead when more than six behind (glass to glass stays near 4 s).
        Object.assign(options, { liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 6,
                                 maxLiveSyncPlaybackRate: 1.1 });
      }
      const hls = new window.Hls(options);
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          if (isLive && data.response && [403, 404].includes(data.response.code)) showError("The live is not on air");
          else if (data.response && data.response.code === 403) showError("Playback was refused by the server");
          else showError("Playback failed (" + data.details + ")");
        }
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      state.hls = hls;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      // Native HLS (Safari): requests cannot be rewritten, so when the token in the URL has expired
      // and a segment is refused, reload with the newest token where playback stopped.
      video.src = src;
      video.onerror = () => {
        if (state.stopped || !state.token) return;
        const at = video.currentTime;
        video.src = withToken(state.src);
        video.addEventListener("loadedmetadata", () => { video.currentTime = at; video.play(); }, { once: true });
      };
    } else {
      showError("This browser cannot play this video");
      return;
    }
    if (auto && autostart === "no") return;
    video.play().catch(() => {
      if (!auto || autostart !== "yes") { status("Press play to start"); return; }
      video.muted = true;  // browsers let a muted video start by itself
      video.play().catch(() => status("Press play to start"));
    });
  }

  function stopPlayback() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    video.onerror = null;
    if (state.hls) { state.hls.destroy(); state.hls = null; }
    video.pause();
  }

  function tick() {
    const now = performance.now();
    if (state.lastTick !== null) state.watched += Math.min(now - state.lastTick, 2000);
    state.lastTick = video.paused || video.ended ? null : now;
  }

  async function heartbeat(final) {
    if (!state.session || state.stopped) return;
    tick();
    const watched = Math.round(state.watched);
    state.watched = 0;
    let answer;
    try {
      answer = await post("/watch/heartbeat", { session: state.session, key: state.key, watched: watched,
                                                live: isLive }, final);
    } catch (error) { state.watched += watched; return; }
    state.heartbeats += 1;
    if (answer.ok) {
      state.token = answer.data.token;
      if (answer.data.live_token) state.liveToken = answer.data.live_token;
      return;
    }
    if (answer.status === 400) return;
    state.stopped = true;
    stopPlayback();
    showError(answer.data.message || "Playback has ended");
    showUnlock(true);
  }

  let watermarkText = "";
  function watermark(text) {
    watermarkText = text || "";
    let mark = $("watermark");
    if (!watermarkText) { if (mark) mark.hidden = true; return; }
    if (!mark) {  // removed from the page: put it back
      mark = document.createElement("div");
      mark.id = "watermark";
      video.parentNode.appendChild(mark);
    }
    mark.textContent = watermarkText;
    mark.hidden = false;
    mark.style.top = (10 + Math.random() * 70) + "%";
    mark.style.left = (5 + Math.random() * 60) + "%";
  }
  setInterval(() => { if (watermarkText) watermark(watermarkText); }, 4000);

  video.addEventListener("playing", () => { state.lastTick = performance.now(); root.classList.add("playing"); });
  video.addEventListener("pause", () => { tick(); root.classList.remove("playing"); });
  video.addEventListener("waiting", () => { tick(); state.lastTick = null; });
  video.addEventListener("timeupdate", () => {
    tick();
    if (state.preview && video.currentTime >= state.preview) {
      stopPlayback();
      state.preview = 0;
      root.classList.remove("previewing");
      status("The preview is over: enter your access password to watch on");
      showUnlock(true);
    }
  });
  video.addEventListener("ended", () => {
    tick();
    heartbeat().then(() => {
      if (!state.downloadable) return;
      const link = $("download");
      link.href = withToken(state.src.replace(/master\.m3u8$/, "original"));
      link.hidden = false;
    });
  });
  window.addEventListener("pagehide", () => {
    if (!state.session) return;
    heartbeat(true);
    const body = JSON.stringify({ session: state.session, key: state.key });
    navigator.sendBeacon("/watch/end", new Blob([body], { type: "application/json" }));
  });

  const passwordForm = $("password-form");
  if (passwordForm) {
    const remembered = fragment.get("access") || sessionStorage.getItem(ACCESS_KEY);
    if (remembered) $("password").value = remembered;
    passwordForm.addEventListener("submit", (event) => {
      event.preventDefault();
      start({ password: $("password").value.trim() });
    });
  }
  const registrationForm = $("registration-form");
  if (registrationForm) {
    registrationForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = (id) => ($(id) ? $(id).value.trim() : "");
      start({ email: value("reg-email"), name: value("reg-name"), phone: value("reg-phone") });
    });
  }
  const previewButton = $("preview-button");
  if (previewButton) previewButton.addEventListener("click", () => start({ preview: true }));
  if (root.dataset.free === "yes") {
    start({}, true);
  } else if (recovery) {
    showUnlock(false);
    status("Signing in…");
    start({ id_recovery: recovery }, true).then((ok) => {
      if (ok) return;
      status("");
      showUnlock(true);  // the normal form, under the reason
    });
  }
})();
