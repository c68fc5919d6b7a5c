// The live demo page: topics and their comments, kept live by WebSocket
// events. Plain DOM code on top of realtime.js; no framework, no build step.
//
// How it stays correct: both lists are live queries (`client.watch`). The
// server answers a watch like `list`, then sends what enters, changes in and
// leaves that query, evaluated for this user: a comment edited so that it no
// longer matches the search leaves the page, a topic made private leaves
// the other users' pages. After a reconnect the client reads each query
// afresh (onReset), so nothing that happened meanwhile is missed.
//
// Logged in, the page also joins the open topic's presence
// (`client.presence`): it shows who else is reading it, and who is typing a
// comment (signals, relayed to the others present and never stored).

const config = JSON.parse(document.getElementById("demo-config").textContent);
// The client's URL comes from {% static %}, so hashed file names work too.
const { RealtimeClient } = await import(config.clientUrl);

const $ = (selector, root = document) => root.querySelector(selector);

const state = {
  topics: [], // the topics query's items, by id
  comments: [], // the selected topic's comments query, newest first
  commentsLoaded: false, // its snapshot has arrived
  selected: null, // the selected topic's id
  search: "", // the comments' search (the view's `search` param)
  editing: null, // "topic:<id>" or "comment:<id>"
  commentsWatch: null,
  presence: null, // the open topic's presence (logged-in users only)
  typing: new Map(), // user id -> {name, timer}: who is typing there
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
  // Nothing to reload on "open": the client re-sends the live queries, and
  // their fresh snapshots arrive through onReset.
}

function showBanner(text) {
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = !text;
}

// --- Topics -----------------------------------------------------------------

// Every topic this user may see (public ones, and all of their own), live.
const topicsWatch = client.watch(
  "topics",
  { ordering: "id", page_size: 100 },
  {
    onReset(items, { reconnect }) {
      state.topics = items;
      if (!reconnect) selectFromHash();
      else if (state.selected !== null && !topicById(state.selected)) selectTopic(null);
      topicsChanged();
    },
    onEnter(topic, index, items) {
      flash(`topic:${topic.id}`);
      state.topics = items;
      topicsChanged();
    },
    onUpdate(topic, previous, index, items) {
      flash(`topic:${topic.id}`);
      state.topics = items;
      topicsChanged();
    },
    onLeave(topic, items) {
      // Deleted, or made private by its owner.
      state.topics = items;
      if (state.editing === `topic:${topic.id}`) state.editing = null;
      if (state.selected === topic.id) selectTopic(null);
      topicsChanged();
    },
  },
);
topicsWatch.ready.catch((error) => showBanner(`Could not load the topics: ${error.data?.detail ?? error.message}`));

function topicById(id) {
  return state.topics.find((topic) => topic.id === id);
}

function topicsChanged() {
  renderTopics();
  renderCommentsHeading();
}

function renderTopics() {
  renderList($("#topics"), state.topics, "topic", (topic) => {
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
    if (topic.closed) li.append(span("badge", "closed"));
    if (topic.can_edit) li.append(actions("topics", topic));
    li.addEventListener("click", (event) => {
      if (!event.target.closest("button")) selectTopic(topic.id);
    });
    return li;
  });
  $("#topics-empty").hidden = state.topics.length > 0;
}

// The page's address says what it shows: #topic=3&search=pizza.
function selectFromHash() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const id = Number(hash.get("topic"));
  if (!topicById(id)) return;
  const search = (hash.get("search") ?? "").trim();
  if (id === state.selected && search === state.search) return;
  state.search = search;
  $("#comment-search").value = search;
  state.selected = null; // Watch again, with this search.
  selectTopic(id, { keepSearch: true });
}
window.addEventListener("hashchange", selectFromHash);

function updateHash() {
  const hash = new URLSearchParams();
  if (state.selected !== null) hash.set("topic", state.selected);
  if (state.selected !== null && state.search) hash.set("search", state.search);
  const text = hash.toString();
  history.replaceState(null, "", text ? `#${text}` : location.pathname);
}

// --- Comments of the selected topic ---------------------------------------------

function selectTopic(id, { keepSearch = false } = {}) {
  if (state.selected === id) return;
  state.selected = id;
  if (!keepSearch) {
    state.search = "";
    $("#comment-search").value = "";
  }
  watchComments();
  joinTopic();
  const form = $("#comment-form");
  if (form) form.hidden = id === null;
  $("#comment-search-form").hidden = id === null;
  renderTopics();
  renderCommentsHeading();
}

// Watch the selected topic's comments that match the search (the latest
// 100 first; later ones enter as they come), instead of any watched before.
function watchComments() {
  state.commentsWatch?.unwatch();
  state.commentsWatch = null;
  state.comments = [];
  state.commentsLoaded = false;
  updateHash();
  renderComments();
  if (state.selected === null) return;
  const params = { topic: state.selected, ordering: "-id", page_size: 100 };
  if (state.search) params.search = state.search;
  const show = (items) => {
    state.comments = items;
    state.commentsLoaded = true;
    renderComments();
  };
  const handle = client.watch("comments", params, {
    onReset: (items) => current() && show(items),
    onEnter(comment, index, items) {
      if (!current()) return;
      flash(`comment:${comment.id}`);
      show(items);
    },
    onUpdate(comment, previous, index, items) {
      if (!current()) return;
      flash(`comment:${comment.id}`);
      show(items);
    },
    onLeave(comment, items) {
      if (!current()) return;
      // Deleted, or edited out of the search.
      if (state.editing === `comment:${comment.id}`) state.editing = null;
      show(items);
    },
  });
  // Events of a query we left (its unwatch is on its way) are not shown.
  const current = () => state.commentsWatch === handle;
  state.commentsWatch = handle;
  handle.ready.catch((error) => {
    if (current()) showBanner(`Could not load the comments: ${error.data?.detail ?? error.message}`);
  });
}

// Search as you type; a pause of 250 ms sends the new query.
let searchTimer = null;
$("#comment-search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => setSearch(event.target.value), 250);
});
$("#comment-search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  setSearch($("#comment-search").value);
});

function setSearch(text) {
  const search = text.trim();
  if (search === state.search) return;
  state.search = search;
  watchComments();
}

function renderCommentsHeading() {
  const topic = topicById(state.selected);
  $("#comments-heading").textContent = topic ? topic.title : "Pick a topic";
  $("#comments-meta").textContent = topic
    ? `${topic.is_private ? "Private topic" : "Topic"} by ${topic.owner}`
    : "Choose a topic on the left to read its comments, live.";
}

function renderComments() {
  const comments = [...state.comments].reverse(); // Oldest first.
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
    if (comment.can_edit) head.append(actions("comments", comment));
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = comment.text;
    li.append(head, text);
    return li;
  });
  const empty = $("#comments-empty");
  empty.hidden = !state.commentsLoaded || state.comments.length > 0;
  empty.textContent = state.search ? `No comments match “${state.search}”.` : "No comments yet.";
}

// --- Who is here, and who is typing ------------------------------------------------

const TYPING_SHOWN = 5000; // ms a "typing" signal shows without a new one
const TYPING_EVERY = 2000; // ms between our own signals while we type

// Be present on the selected topic (instead of the one before).
function joinTopic() {
  stopTyping();
  state.presence?.leave();
  state.presence = null;
  for (const { timer } of state.typing.values()) clearTimeout(timer);
  state.typing.clear();
  renderTyping();
  renderViewers(null);
  // Anonymous users may read, but presence shows who is there: they are not.
  if (state.selected === null || config.userId === null) return;
  const handle = client.presence("topics", state.selected, {
    onChange(members) {
      if (!current()) return;
      renderViewers(members);
      const present = new Set(members.map((member) => member.id));
      for (const [id, { timer }] of state.typing) {
        if (present.has(id)) continue;
        clearTimeout(timer);
        state.typing.delete(id);
      }
      renderTyping();
    },
    onSignal(from, payload) {
      if (current() && typeof payload.typing === "boolean") showTyping(from, payload.typing);
    },
  });
  const current = () => state.presence === handle;
  state.presence = handle;
  // Refused when the topic just turned private or went away: it leaves the list.
  handle.ready.catch(() => {});
}

function renderViewers(members) {
  const viewers = $("#viewers");
  viewers.hidden = members === null;
  if (members === null) return;
  const others = members.filter((member) => member.id !== config.userId);
  viewers.textContent = others.length
    ? `Also reading: ${others.map((member) => member.name).join(", ")}`
    : "Nobody else is reading this topic.";
}

function showTyping(from, typing) {
  clearTimeout(state.typing.get(from.id)?.timer);
  state.typing.delete(from.id);
  if (typing) {
    const timer = setTimeout(() => {
      state.typing.delete(from.id);
      renderTyping();
    }, TYPING_SHOWN);
    state.typing.set(from.id, { name: from.name, timer });
  }
  renderTyping();
}

function renderTyping() {
  const names = [...state.typing.values()].map(({ name }) => name);
  $("#typing").textContent = names.length
    ? `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`
    : "";
}

// Our own typing: a signal as we start, again every 2 s while we type, and
// "stopped" once we pause for twice that or send the comment.
let typingSentAt = 0;
let typingPause = null;
$("#comment-text")?.addEventListener("input", () => {
  if (!state.presence) return;
  if (Date.now() - typingSentAt > TYPING_EVERY) {
    typingSentAt = Date.now();
    state.presence.signal({ typing: true }).catch(() => {}); // Best effort.
  }
  clearTimeout(typingPause);
  typingPause = setTimeout(stopTyping, 2 * TYPING_EVERY);
});

function stopTyping() {
  clearTimeout(typingPause);
  if (typingSentAt && state.presence) state.presence.signal({ typing: false }).catch(() => {});
  typingSentAt = 0;
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
  // The topic enters the topics query: its event shows it.
  selectTopic(frame.data.id);
});

$("#comment-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const payload = { topic: state.selected, text: form.elements.namedItem("text").value };
  stopTyping();
  const frame = await submit(form, client.request("comments", "create", { payload }));
  if (!frame) return;
  // It enters the comments query (if it matches the search): its event shows it.
  form.reset();
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
  if (stream === "topics" && !item.closed) {
    // The view's `close` @action (topics/close/<id>/), its owner only: the
    // topic's update event then shows the "closed" badge to everyone.
    const close = button("Close", "close", async () => {
      try {
        await client.request("topics", "close", { lookup: item.id });
      } catch (error) {
        showBanner(`Could not close: ${error.data?.detail ?? error.message}`);
      }
    });
    box.append(close);
  }
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
    // The watch's event shows the change, or takes the item away when it no
    // longer matches (a comment edited out of the search).
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
    if (flashing.delete(key)) {
      li.classList.add("flash");
      // Re-inserting an element restarts its animation: flash it once only.
      li.addEventListener("animationend", () => li.classList.remove("flash"), { once: true });
    }
    return li;
  });
  list.replaceChildren(...wanted);
}

const flashing = new Set();
function flash(key) {
  flashing.add(key);
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
