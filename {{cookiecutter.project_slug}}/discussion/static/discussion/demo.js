// The live demo page: topics and their comments, kept live by WebSocket
// events. Plain DOM code on top of realtime.js; no framework, no build step.
//
// How it stays correct: subscribe first, then read the list (the server
// answers one socket's frames in order), apply every event, and read the
// lists again after each reconnect, since events sent while the socket was
// down are lost.

const config = JSON.parse(document.getElementById("demo-config").textContent);
// The client's URL comes from {% static %}, so hashed file names work too.
const { RealtimeClient } = await import(config.clientUrl);

const $ = (selector, root = document) => root.querySelector(selector);

const state = {
  topics: new Map(), // id -> topic
  comments: new Map(), // id -> comment of the selected topic
  selected: null, // the selected topic's id
  editing: null, // "topic:<id>" or "comment:<id>"
  unsubscribeComments: null,
};

// --- The connection ---------------------------------------------------------

const client = new RealtimeClient(config.socketPath, { onStateChange: showConnection });

function showConnection({ state: connection, code, delay }) {
  const indicator = $("#connection");
  indicator.dataset.state = connection;
  const labels = {
    connecting: "Connecting…",
    open: "Live",
    reconnecting: `Disconnected, retrying in ${Math.ceil(delay / 1000)} s…`,
    closed: "Disconnected",
  };
  $(".label", indicator).textContent = labels[connection];
  if (connection === "reconnecting" && code === 4001) {
    // The session changed (logged in or out in another tab): the user named
    // on this page, and what it may show, are out of date.
    showBanner("Your session changed: reloading…");
    window.location.reload();
  }
  if (connection === "open") {
    // The first load, or a reload of what may have changed while we were away.
    loadTopics();
    if (state.selected !== null) loadComments(state.selected);
  }
}

function showBanner(text) {
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = !text;
}

// --- Topics -----------------------------------------------------------------

// Public topics, new ones included; and all of mine (private ones too).
client.subscribe("topics", { is_private: false }, onTopicEvent);
if (config.user) client.subscribe("topics", { owner: config.user }, onTopicEvent);

const topicLoader = bufferedLoader(onTopicEvent);

async function loadTopics() {
  const frame = await topicLoader.load(() =>
    client.request("topics", "list", { payload: { page_size: 100 } }),
  );
  if (!frame) return;
  state.topics = new Map(frame.data.results.map((topic) => [topic.id, topic]));
  topicLoader.replay();
  if (state.selected === null) {
    const fromHash = Number(new URLSearchParams(location.hash.slice(1)).get("topic"));
    if (state.topics.has(fromHash)) selectTopic(fromHash);
  } else if (!state.topics.has(state.selected)) {
    selectTopic(null);
  }
  renderTopics();
}

function canSee(topic) {
  return !topic.is_private || topic.owner === config.user || config.isStaff;
}

function onTopicEvent({ action, data }) {
  if (topicLoader.buffer({ action, data })) return;
  if (action === "delete" || !canSee(data)) {
    state.topics.delete(data.id);
    if (state.selected === data.id) selectTopic(null);
  } else {
    state.topics.set(data.id, data);
    flash(`topic:${data.id}`);
  }
  renderTopics();
  if (state.selected === data.id) renderCommentsHeading();
}

function renderTopics() {
  const topics = [...state.topics.values()].sort((a, b) => a.id - b.id);
  renderList($("#topics"), topics, "topic", (topic) => {
    const li = document.createElement("li");
    li.classList.toggle("selected", topic.id === state.selected);
    if (state.editing === `topic:${topic.id}`) {
      li.append(editForm(topic, "topics", [
        { name: "title", value: topic.title },
        { name: "is_private", value: topic.is_private, label: "Private" },
      ]));
      return li;
    }
    li.append(span("title", topic.title), span("by", `by ${topic.owner}`));
    if (topic.is_private) li.append(span("badge", "private"));
    if (topic.owner === config.user) li.append(actions("topics", topic));
    li.addEventListener("click", (event) => {
      if (!event.target.closest("button")) selectTopic(topic.id);
    });
    return li;
  });
  $("#topics-empty").hidden = state.topics.size > 0;
}

// --- Comments of the selected topic ---------------------------------------------

const commentLoader = bufferedLoader(onCommentEvent);

function selectTopic(id) {
  if (state.selected === id) return;
  state.unsubscribeComments?.();
  state.unsubscribeComments = null;
  state.selected = id;
  state.comments = new Map();
  history.replaceState(null, "", id === null ? location.pathname : `#topic=${id}`);
  if (id !== null) {
    // A topic subscription also hears of comments created later in it.
    state.unsubscribeComments = client.subscribe("comments", { topic: id }, onCommentEvent);
    loadComments(id);
  }
  const form = $("#comment-form");
  if (form) form.hidden = id === null;
  renderTopics();
  renderCommentsHeading();
  renderComments();
}

async function loadComments(topicId) {
  // The latest 100, oldest first.
  const frame = await commentLoader.load(() =>
    client.request("comments", "list", {
      payload: { topic: topicId, ordering: "-id", page_size: 100 },
    }),
  );
  if (!frame || state.selected !== topicId) return;
  state.comments = new Map(frame.data.results.reverse().map((c) => [c.id, c]));
  commentLoader.replay();
  renderComments();
}

function onCommentEvent({ action, data }) {
  if (commentLoader.buffer({ action, data })) return;
  if (action === "delete") {
    state.comments.delete(data.id);
  } else if (data.topic === state.selected) {
    state.comments.set(data.id, data);
    flash(`comment:${data.id}`);
  } else {
    return; // An event of the topic we just left.
  }
  renderComments();
}

function renderCommentsHeading() {
  const topic = state.topics.get(state.selected);
  $("#comments-heading").textContent = topic ? topic.title : "Pick a topic";
  $("#comments-meta").textContent = topic
    ? `${topic.is_private ? "Private topic" : "Topic"} by ${topic.owner}`
    : "Choose a topic on the left to read its comments, live.";
}

function renderComments() {
  const comments = [...state.comments.values()].sort((a, b) => a.id - b.id);
  renderList($("#comments"), comments, "comment", (comment) => {
    const li = document.createElement("li");
    if (state.editing === `comment:${comment.id}`) {
      li.append(editForm(comment, "comments", [{ name: "text", value: comment.text, multiline: true }]));
      return li;
    }
    const head = document.createElement("div");
    head.className = "head";
    const edited = comment.updated && Date.parse(comment.updated) - Date.parse(comment.created) > 1000;
    head.append(span("author", comment.author), span("by", when(comment.created) + (edited ? " · edited" : "")));
    if (comment.author === config.user) head.append(actions("comments", comment));
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = comment.text;
    li.append(head, text);
    return li;
  });
  $("#comments-empty").hidden = state.selected === null || state.comments.size > 0;
}

// --- Forms --------------------------------------------------------------------

$("#topic-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const fields = form.elements;
  const payload = { title: fields.namedItem("title").value, is_private: fields.namedItem("is_private").checked };
  const frame = await submit(form, client.request("topics", "create", { payload }));
  if (!frame) return;
  form.reset();
  state.topics.set(frame.data.id, frame.data); // The event may come later.
  renderTopics();
  selectTopic(frame.data.id);
});

$("#comment-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const payload = { topic: state.selected, text: form.elements.namedItem("text").value };
  const frame = await submit(form, client.request("comments", "create", { payload }));
  if (!frame) return;
  form.reset();
  if (frame.data.topic === state.selected) state.comments.set(frame.data.id, frame.data);
  renderComments();
});

// Await a request made for `form`; show its validation errors next to the
// fields (or at the bottom). Returns the response frame, or null.
async function submit(form, request) {
  for (const p of form.querySelectorAll(".errors")) p.textContent = "";
  for (const field of form.querySelectorAll(".invalid")) field.classList.remove("invalid");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    return await request;
  } catch (error) {
    showErrors(form, error);
    return null;
  } finally {
    button.disabled = false;
  }
}

function showErrors(form, error) {
  const data = error.data;
  const fieldErrors = data && typeof data === "object" && !data.detail ? data : null;
  if (!fieldErrors) {
    const detail = data?.detail ?? error.message;
    form.querySelector('.errors[data-for="non_field_errors"]').textContent = detail;
    return;
  }
  for (const [name, messages] of Object.entries(fieldErrors)) {
    const text = [].concat(messages).join(" ");
    const slot = form.querySelector(`.errors[data-for="${name}"]`)
      ?? form.querySelector('.errors[data-for="non_field_errors"]');
    slot.textContent = slot.dataset.for === name ? text : `${name}: ${text}`;
    form.elements.namedItem(name)?.classList?.add("invalid");
  }
}

function actions(stream, item) {
  const box = span("actions", "");
  const kind = stream === "topics" ? "topic" : "comment";
  const edit = button("Edit", "edit", () => {
    state.editing = `${kind}:${item.id}`;
    stream === "topics" ? renderTopics() : renderComments();
    $(`[data-key="${kind}:${item.id}"] .edit [name]`)?.focus();
  });
  const remove = button("Delete", "delete", async () => {
    try {
      await client.request(stream, "delete", { lookup: item.id });
    } catch (error) {
      showBanner(`Could not delete: ${error.data?.detail ?? error.message}`);
    }
  });
  box.append(edit, remove);
  return box;
}

// An inline edit form for `item`; saving sends an update (PATCH) request.
function editForm(item, stream, fields) {
  const form = document.createElement("form");
  form.className = "edit";
  form.noValidate = true;
  for (const field of fields) {
    let input;
    if (typeof field.value === "boolean") {
      const label = document.createElement("label");
      input = document.createElement("input");
      input.type = "checkbox";
      input.name = field.name;
      input.checked = field.value;
      label.append(input, ` ${field.label}`);
      form.append(label);
    } else {
      input = document.createElement(field.multiline ? "textarea" : "input");
      input.name = field.name;
      input.value = field.value;
      form.append(input);
    }
    const errors = document.createElement("p");
    errors.className = "errors";
    errors.dataset.for = field.name;
    form.append(errors);
  }
  const errors = document.createElement("p");
  errors.className = "errors";
  errors.dataset.for = "non_field_errors";
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = button("Cancel", "cancel", () => stopEditing(stream));
  buttons.append(save, cancel);
  form.append(errors, buttons);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {};
    for (const field of fields) {
      const input = form.elements.namedItem(field.name);
      payload[field.name] = input.type === "checkbox" ? input.checked : input.value;
    }
    const frame = await submit(form, client.request(stream, "update", { lookup: item.id, payload }));
    if (!frame) return;
    (stream === "topics" ? state.topics : state.comments).set(item.id, frame.data);
    stopEditing(stream);
  });
  return form;
}

function stopEditing(stream) {
  state.editing = null;
  stream === "topics" ? renderTopics() : renderComments();
}

// --- Small helpers --------------------------------------------------------------

// Render `items` into `list`, keeping the element of an item that did not
// change (so an edit form being typed into survives events).
function renderList(list, items, kind, render) {
  const old = new Map([...list.children].map((li) => [li.dataset.key, li]));
  const wanted = items.map((item) => {
    const key = `${kind}:${item.id}`;
    const editing = state.editing === key;
    const selected = kind === "topic" && state.selected === item.id;
    const signature = editing ? "editing" : JSON.stringify([item, selected]);
    const existing = old.get(key);
    if (existing && existing.dataset.signature === signature) return existing;
    const li = render(item);
    li.dataset.key = key;
    li.dataset.id = item.id;
    li.dataset.signature = signature;
    if (flashing.delete(key)) li.classList.add("flash");
    return li;
  });
  list.replaceChildren(...wanted);
}

const flashing = new Set();
function flash(key) {
  flashing.add(key);
}

// Events that arrive while a list is being read are kept and applied after
// the list, so the list (an older snapshot) cannot overwrite them.
function bufferedLoader(apply) {
  let loading = 0;
  let buffered = [];
  return {
    async load(read) {
      loading += 1;
      try {
        return await read();
      } catch (error) {
        showBanner(`Could not load: ${error.data?.detail ?? error.message}`);
        return null;
      } finally {
        loading -= 1;
      }
    },
    buffer(event) {
      if (!loading) return false;
      buffered.push(event);
      return true;
    },
    replay() {
      const events = buffered;
      buffered = [];
      events.forEach(apply);
    },
  };
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function button(text, className, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

// "14:03" today, the date and time before.
function when(iso) {
  const date = new Date(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : date.toLocaleString();
}
