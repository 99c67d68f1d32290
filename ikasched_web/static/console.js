// The ikasched console's only script: confirmation of destructive actions, and live statuses
// of an instance page from its server-sent events (no polling, no page reload).
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A job's action buttons (a row's cell, or the job page's box), rebuilt from the page's
// <template> of verb forms when the verbs its new status offers differ from those it shows
// (the server names them with each status). `holder` carries the job's data-job/data-child.
function setVerbs(holder, cell, verbs) {
  var forms = document.getElementById("job-verb-forms");
  if (!cell || !forms || !Array.isArray(verbs)) { return; }
  var wanted = verbs.join(" ");
  if (cell.dataset.verbs === wanted) { return; }
  while (cell.firstChild) { cell.removeChild(cell.firstChild); }
  verbs.forEach(function (word) {
    var model = forms.content.querySelector('form[data-verb-form="' + word + '"]');
    if (!model) { return; }
    var form = model.cloneNode(true);
    form.querySelector('input[name="job"]').value = holder.dataset.job;
    form.querySelector('input[name="child"]').value = holder.dataset.child;
    var label = form.getAttribute("data-confirm-label");
    if (label) { form.setAttribute("data-confirm", label + " " + holder.dataset.job + "?"); }
    cell.appendChild(form);
  });
  cell.dataset.verbs = wanted;
}

function sameJob(holder, job, child) {
  return holder.dataset.job === job && (!child || holder.dataset.child === child);
}

function setStatus(job, child, status, verbs) {
  var nodes = document.querySelectorAll("g.job");
  nodes.forEach(function (node) {
    if (sameJob(node, job, child)) {
      node.classList.forEach(function (name) {
        if (name.indexOf("s-") === 0) { node.classList.remove(name); }
      });
      node.classList.add("s-" + (status || "NONE"));
      node.dataset.status = status;
      var title = node.querySelector("title");
      if (title) { title.textContent = job + " (" + status + ")"; }
    }
  });
  document.querySelectorAll("#jobs tr[data-job]").forEach(function (row) {
    if (sameJob(row, job, child)) {
      var cell = row.querySelector("td.status");
      if (cell) { cell.className = "status s-" + status; cell.textContent = status; }
      setVerbs(row, row.querySelector("td.actions"), verbs);
    }
  });
  var box = document.getElementById("job-actions");
  var live = document.getElementById("job-live");
  if (live && sameJob(live, job, child)) {
    var fact = document.querySelector("#job-facts td.status");
    if (fact) { fact.className = "status s-" + status; fact.textContent = status; }
    if (box) { setVerbs(box, box, verbs); }
  }
}

function showError(text) {
  var box = document.getElementById("live-error");
  if (box) { box.textContent = text; box.hidden = false; }
}

function watch(graph) {
  var source = new EventSource("/instances/" + encodeURIComponent(graph.dataset.instance) + "/events");
  source.addEventListener("snapshot", function (event) {
    var data = JSON.parse(event.data);
    data.jobs.forEach(function (j) { setStatus(j.job, j.child, j.status, j.verbs); });
    var box = document.getElementById("instance-status");
    if (box) { box.textContent = data.status; box.className = "s-" + data.status; }
  });
  source.addEventListener("job", function (event) {
    var data = JSON.parse(event.data);
    setStatus(data.job, data.child, data.status, data.verbs);
  });
  source.addEventListener("context", function (event) {
    var data = JSON.parse(event.data);
    var box = document.getElementById("instance-status");
    var name = document.querySelector("h1").firstChild.textContent.trim();
    if (box && data.context === name) { box.textContent = data.status; box.className = "s-" + data.status; }
  });
  source.addEventListener("failure", function (event) {
    showError("live updates stopped: " + JSON.parse(event.data));
    source.close();
  });
  document.body.dataset.live = "1";
}

// A job's log followed live: the server's `chunk` events appended as text (never as markup),
// from the byte offset the page's copy reached; `end` when the job's log is complete.
function follow(pre) {
  if (pre.dataset.following === "1") { return; }
  pre.dataset.following = "1";
  var name = pre.id.replace(/^log-/, "");
  var state = document.getElementById("follow-state-" + name);
  var button = document.getElementById("follow-" + name);
  if (button) { button.disabled = true; }
  if (state) { state.textContent = "following"; }
  var source = new EventSource(pre.dataset.followUrl + "&offset=" + encodeURIComponent(pre.dataset.offset || "0"));
  source.addEventListener("chunk", function (event) {
    pre.appendChild(document.createTextNode(JSON.parse(event.data).text));
    pre.dataset.offset = event.lastEventId;
    pre.scrollTop = pre.scrollHeight;
  });
  source.addEventListener("end", function () {
    source.close();
    pre.dataset.following = "ended";
    if (state) { state.textContent = "complete"; }
  });
  source.addEventListener("failure", function (event) {
    source.close();
    pre.dataset.following = "failed";
    if (state) { state.textContent = "stopped: " + JSON.parse(event.data); }
  });
}

document.addEventListener("click", function (event) {
  var button = event.target;
  if (button instanceof HTMLButtonElement && button.classList.contains("follow")) {
    var pre = document.getElementById(button.dataset.log);
    if (pre) { follow(pre); }
  }
});

document.addEventListener("DOMContentLoaded", function () {
  var graph = document.getElementById("graph") || document.getElementById("job-live");
  if (graph) { watch(graph); }
  document.querySelectorAll("pre.log[data-follow-now]").forEach(follow);
});
