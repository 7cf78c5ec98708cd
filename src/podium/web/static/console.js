// The operator console's media upload: drop a file (or choose one), create the media, send the file
// to its signed upload URL with a progress bar, then follow the signed progress URL until transcoded.
(function () {
  "use strict";
  var zone = document.getElementById("drop-zone");
  if (!zone) return;
  var input = document.getElementById("file-input");
  var box = document.getElementById("upload");
  var bar = document.getElementById("upload-progress");
  var percent = document.getElementById("upload-percent");
  var state = document.getElementById("upload-state");

  function show(value) {
    value = Math.max(0, Math.min(100, Math.round(value)));
    if (value < Number(bar.value)) return;
    bar.value = value;
    percent.textContent = value + "%";
  }

  function follow(url) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (p) {
      show(p.UploadPercent || 0);
      state.textContent = p.MediaStatus + (p.MediaStatus === "Processing" ? " " + (p.TranscodePercent || 0) + "%" : "");
      state.dataset.status = p.MediaStatus;
      if (p.MediaStatus === "Done" || p.MediaStatus === "Failed") {
        window.setTimeout(function () { window.location.reload(); }, 500);
      } else {
        window.setTimeout(function () { follow(url); }, 1000);
      }
    }).catch(function () { window.setTimeout(function () { follow(url); }, 2000); });
  }

  function upload(file) {
    box.hidden = false;
    bar.value = 0;
    percent.textContent = "0%";
    document.getElementById("upload-name").textContent = file.name;
    state.textContent = "Preparing…";
    var form = new FormData();
    form.append("csrf", zone.dataset.csrf);
    form.append("title", file.name.replace(/\.[^.]*$/, ""));
    form.append("folder", zone.dataset.folder || "");
    fetch("/console/media/upload", { method: "POST", body: form, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (!answer.ok) { state.textContent = answer.body.message || "Upload refused"; return; }
        zone.dataset.code = answer.body.code;
        var xhr = new XMLHttpRequest();
        xhr.open("PUT", answer.body.upload_url);
        xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
        xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
        xhr.upload.onprogress = function (event) {
          if (event.lengthComputable) show(event.loaded * 100 / event.total);
        };
        xhr.onload = function () {
          if (xhr.status >= 200 && xhr.status < 300) {
            state.textContent = "Uploaded: transcoding";
            follow(answer.body.progress_url);
          } else {
            state.textContent = "Upload failed (" + xhr.status + ")";
          }
        };
        xhr.onerror = function () { state.textContent = "Upload failed: network error"; };
        state.textContent = "Uploading…";
        xhr.send(file);
      });
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) upload(files[0]);
  });
  input.addEventListener("change", function () { if (input.files.length) upload(input.files[0]); });
})();
