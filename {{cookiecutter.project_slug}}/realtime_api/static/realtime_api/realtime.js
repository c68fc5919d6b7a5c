// realtime.js: a small, dependency-free client of the realtime API.
//
// It speaks the wire protocol of realtime_api/PROTOCOL.md over one
// multiplexed WebSocket: requests answered by response frames (matched by
// request_id), subscriptions that deliver event frames, live queries
// (`watch`) that keep an ordered copy of a list, and a reconnect loop that
// resumes every subscription (with `since`) and re-reads every live query.
// Copy it into your frontend as it is; it is an ES module for browsers (no
// build step needed).
//
//   import { RealtimeClient } from "/static/realtime_api/realtime.js";
//
//   const client = new RealtimeClient("/ws/", {
//     onStateChange: ({ state }) => console.log("socket:", state),
//   });
//   const unsubscribe = client.subscribe("comments", { topic: 3 }, (event) => {
//     // "create" | "update" | "delete" | "leave" (no longer visible: drop it)
//     console.log(event.action, event.data);
//   }, {
//     // A reconnect could not replay what was missed: read again.
//     onReset: ({ reason }) => reloadComments(),
//   });
//   const { data } = await client.request("comments", "list", { payload: { topic: 3 } });
//   try {
//     await client.request("comments", "create", { payload: { topic: 3, text: "" } });
//   } catch (error) {
//     console.log(error.status, error.frame?.data); // 400 {text: ["This field ..."]}
//   }
//   unsubscribe();
//   // An @action of the view (PROTOCOL.md "Extra actions"): topics/close/3/.
//   await client.request("topics", "close", { lookup: 3 });
//
//   // A live query: the list, kept up to date and in order.
//   const live = client.watch("comments", { topic: 3, ordering: "-created" }, {
//     onReset: (items) => render(items), // the snapshot (again after a reconnect)
//     onEnter: (item, index, items) => render(items),
//     onUpdate: (item, previous, index, items) => render(items),
//     onLeave: (previous, items) => render(items),
//   });
//   await live.ready; live.items; // the ordered local copy
//   live.unwatch();
//
//   // Presence: who else is on topic 3, live, and what they signal.
//   const here = client.presence("topics", 3, {
//     onChange: (members) => render(members), // [{id, name}], you included
//     onSignal: (from, payload) => payload.typing && showTyping(from.name),
//   });
//   here.signal({ typing: true }); // to the others present, never stored
//   here.leave();

const OPEN = 1; // WebSocket.OPEN, also where no WebSocket global exists.

// Connection states, as passed to onStateChange:
//   "connecting"   a socket is opening (the first time or again)
//   "open"         connected; subscriptions have been re-sent
//   "reconnecting" the socket closed; the next attempt is scheduled
//   "closed"       close() was called: no more attempts
export const STATES = Object.freeze(["connecting", "open", "reconnecting", "closed"]);

// Close codes of PROTOCOL.md's "Limits and overload" that change the backoff.
const FLOODING = 4008;
const FLOODING_DELAY = 5000; // ms

const DEFAULTS = {
  // How long a request may take, waiting for a connection included (ms).
  timeout: 10000,
  // Requests that may wait for a connection at once; more are refused.
  maxQueued: 100,
  // Reconnect delays: the first retry waits about minDelay, each failed
  // attempt doubles it, up to maxDelay; jitter spreads clients apart.
  minDelay: 500,
  maxDelay: 10000,
  // The delays start again from minDelay only once a socket stayed open this
  // long (ms): one accepted and dropped at once (its server restarting again)
  // must not send every client back twice a second (PROTOCOL.md,
  // "Reconnecting clients"). 0: on every open.
  stableAfter: 5000,
  // Called with {state, code, reason, attempt, delay} on every change.
  onStateChange: null,
  // Called with an Error when a subscription or a live query is refused
  // after a reconnect (its first answer rejects the `ready` promise instead).
  onError: (error) => console.error("realtime:", error),
  // Called with {stream, filter, reason} when a subscription without an
  // `onReset` of its own could not resume after a reconnect (see subscribe).
  onReset: null,
  // The WebSocket class (inject one outside browsers, e.g. in Node < 22).
  WebSocket: globalThis.WebSocket,
  // Pages on another origin (no session cookie there): a function that
  // returns (or resolves with) a fresh ticket from POST /api/realtime/ticket/,
  // called before every connection, since a ticket opens one socket once.
  ticket: null,
  // Credentials that expire (PROTOCOL.md "Present credentials"): a function
  // that returns (or resolves with) a fresh Authorization header value, e.g.
  // async () => `Bearer ${await renewToken()}`. On each open socket the
  // client sends it in a `reauthenticate` frame (the answer says when it
  // expires), then a fresh one refreshBefore ms before that (or at half the
  // time left, for short-lived ones); the socket closes 4001 otherwise.
  refreshCredentials: null,
  refreshBefore: 30000,
};

// After fresh credentials are refused (403), try again this soon (ms).
const REFRESH_RETRY = 5000;

// A request answered with an error status (>= 400), or not answered at all.
export class RequestError extends Error {
  constructor(message, frame = null) {
    super(message);
    this.name = "RequestError";
    this.frame = frame; // The response frame, or null (timeout, lost socket).
    this.status = frame ? frame.status : null;
    this.data = frame ? frame.data : null;
  }
}

// The socket URL for a path on this page's host: "/ws/" -> "wss://host/ws/".
export function socketUrl(path = "/ws/") {
  if (/^wss?:\/\//.test(path)) return path;
  const scheme = globalThis.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${globalThis.location.host}${path}`;
}

// Stable JSON: the same filter written in another key order is the same
// subscription, as the server sees it.
function stableJson(value) {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// The comparison of a watch's `ordering` param: "-created,title" orders by
// created, newest first, then by title; ties by id (ascending, unless the
// ordering names id or pk), as the server's ordering breaks them. Only the
// objects' own fields count: a field missing from them ("topic__title")
// compares equal. No ordering: null (the snapshot's order, append).
export function orderingCompare(ordering) {
  const text = Array.isArray(ordering) ? ordering.join(",") : ordering;
  if (typeof text !== "string" || !text.trim()) return null;
  const fields = text
    .split(",")
    .map((field) => field.trim())
    .filter(Boolean)
    .map((field) => {
      const descending = field.startsWith("-");
      let name = field.replace(/^[-+]/, "");
      if (name === "pk") name = "id";
      return { name, direction: descending ? -1 : 1 };
    });
  if (!fields.some(({ name }) => name === "id")) fields.push({ name: "id", direction: 1 });
  return (a, b) => {
    for (const { name, direction } of fields) {
      const order = compareValues(a[name], b[name]);
      if (order) return order * direction;
    }
    return 0;
  };
}

// ISO 8601 date-times as DRF writes them; the fraction is optional (left
// out when zero), so plain string comparison would misorder them.
const ISO_DATETIME = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

function datetimeKey(value) {
  const match = ISO_DATETIME.exec(value);
  if (!match) return null;
  const seconds = Date.parse(match[1].replace(" ", "T") + (match[3] ?? ""));
  if (Number.isNaN(seconds)) return null;
  return [seconds, Number((match[2] ?? "").padEnd(6, "0").slice(0, 6))];
}

// Nulls first (as SQLite orders them ascending), then numbers, booleans and
// strings by value; date-times by time.
function compareValues(a, b) {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? -1 : 1;
  if (typeof a === "string" && typeof b === "string") {
    const aTime = datetimeKey(a);
    const bTime = aTime && datetimeKey(b);
    if (aTime && bTime) return aTime[0] - bTime[0] || aTime[1] - bTime[1];
  }
  if (typeof a === "object" || typeof b === "object") {
    a = stableJson(a);
    b = stableJson(b);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// Presence members in the server's order: by name (case-insensitive), then id.
function byName(a, b) {
  const keys = [a, b].map((member) => [String(member.name ?? "").toLowerCase(), String(member.id)]);
  return compareValues(keys[0][0], keys[1][0]) || compareValues(keys[0][1], keys[1][1]);
}

export class RealtimeClient {
  constructor(url = "/ws/", options = {}) {
    this.url = socketUrl(url);
    this.options = { ...DEFAULTS, ...options };
    this.state = "closed";
    this.socket = null;
    this.attempt = 0; // Attempts since the last socket that stayed open stableAfter ms.
    this.openedAt = null; // When the current socket opened (ms), until it closes.
    this.pending = new Map(); // request_id -> {resolve, reject, timer, frame, sent}
    this.queue = []; // request_ids waiting for an open socket, in order
    this.subscriptions = new Map(); // key -> {stream, filter, handlers: Map}
    this.watches = new Set(); // live queries, see watch()
    this.watchIds = new Map(); // the server's watch id -> live query, this socket
    this.presences = new Set(); // objects joined, see presence()
    this.seqs = new Map(); // stream -> the highest `seq` of its events seen
    this.stateListeners = new Set();
    this.nextId = 1;
    this.retryTimer = null;
    this.refreshTimer = null; // The next refreshCredentials() of this socket.
    this.expiresAt = null; // When this socket's credentials expire (ms), if known.
    this.stopped = false;
    if (this.options.onStateChange) this.stateListeners.add(this.options.onStateChange);
    // Back online: retry now rather than at the end of a long backoff.
    this.online = () => this.retryNow();
    globalThis.addEventListener?.("online", this.online);
    this.connect();
  }

  // --- Public API -----------------------------------------------------------

  // Send a request frame; resolve with its response frame (status < 400),
  // reject with a RequestError (error status, timeout, socket lost after
  // sending). While disconnected the request waits for the connection, up to
  // `timeout` ms in all. `since` goes next to `payload` (subscribe only).
  // `action` is any action of the stream, its view's @actions included
  // ("close"); `method` picks one of an @action's HTTP methods ("put").
  request(stream, action, { lookup, payload = {}, timeout, since, method } = {}) {
    const requestId = `r${this.nextId++}`;
    // The structured form of a request frame: no lookup to escape in a path.
    const frame = { stream, action, payload, request_id: requestId };
    if (lookup !== undefined && lookup !== null) frame.lookup = lookup;
    if (since !== undefined && since !== null) frame.since = since;
    if (method) frame.method = method;
    return new Promise((resolve, reject) => {
      if (this.stopped) {
        reject(new RequestError("The client is closed."));
        return;
      }
      if (!this.isOpen() && this.queue.length >= this.options.maxQueued) {
        reject(new RequestError(`Not connected, and ${this.queue.length} requests already wait.`));
        return;
      }
      const ms = timeout ?? this.options.timeout;
      const timer = setTimeout(() => {
        this.forget(requestId);
        reject(new RequestError(`No answer to ${action} on ${stream} within ${ms} ms.`));
      }, ms);
      this.pending.set(requestId, { resolve, reject, timer, frame, sent: false });
      if (this.isOpen()) this.transmit(requestId);
      else this.queue.push(requestId);
    });
  }

  // Subscribe to changes (PROTOCOL.md "Subscriptions"); `onEvent(frame)`
  // gets each event frame of `stream` this socket receives. Returns the
  // function that unsubscribes; its `ready` promise settles with the first
  // subscribe answer.
  //
  // After every reconnect the subscription is re-sent with `since`, the
  // highest `seq` seen on its stream: the server first sends the events
  // missed meanwhile (in order, once), then the live ones. When it cannot
  // (`"resumed": false, "reason": "too old"`, or no event of the stream was
  // seen before the socket closed, so there is no `since` to send) events
  // may be lost, and `onReset({stream, filter, reason})` is called (the
  // client's `onReset` option when the subscription has none): read what
  // you show again. The subscription itself is live again either way.
  //
  // Event frames do not say which subscription they answer, so every
  // handler of a stream sees every event of that stream on this socket.
  subscribe(stream, filter, onEvent, { onReset } = {}) {
    const key = `${stream} ${stableJson(filter)}`;
    let subscription = this.subscriptions.get(key);
    if (!subscription) {
      subscription = { key, stream, filter, handlers: new Map() };
      subscription.ready = new Promise((resolve, reject) => {
        subscription.settle = { resolve, reject };
      });
      subscription.ready.catch(() => {}); // Reported through `ready` only.
      this.subscriptions.set(key, subscription);
      // Not open: opened() sends it, with every other subscription.
      if (this.isOpen()) this.sendSubscribe(subscription);
    }
    const handler = (frame) => onEvent(frame);
    subscription.handlers.set(handler, onReset ?? null);
    let active = true;
    const unsubscribe = () => {
      if (!active) return Promise.resolve(null);
      active = false;
      subscription.handlers.delete(handler);
      if (subscription.handlers.size || this.subscriptions.get(key) !== subscription) {
        return Promise.resolve(null);
      }
      this.subscriptions.delete(key);
      if (!this.isOpen()) return Promise.resolve(null); // Never re-sent: gone.
      return this.request(stream, "unsubscribe", { payload: filter }).catch(() => null);
    };
    unsubscribe.ready = subscription.ready;
    return unsubscribe;
  }

  // A live query (PROTOCOL.md "Live queries"): `params` is what `list` takes
  // (filters, `search`, `ordering`, `page_size` for the first snapshot).
  // Keeps `handle.items`, an ordered local copy of the list, and calls:
  //   onReset(items, {reconnect})   the snapshot: first, and after every
  //                                 reconnect (a fresh one: nothing missed)
  //   onEnter(item, index, items)   an object entered the query
  //   onUpdate(item, previous, index, items)  a member changed (index may
  //                                 move); an update that changes nothing is
  //                                 not reported
  //   onLeave(previous, items)      an object left (deleted, changed out of
  //                                 the query, or no longer visible)
  //   onError(error)                the server refused it after a reconnect
  // Order: the snapshot's, as the server sorted it; an object that enters
  // or changes is placed by the `ordering` param (comma-separated fields,
  // "-" for descending, compared on the objects' own fields; ties by id, as
  // the server breaks them), or, without one, appended (an update stays
  // where it was). Pass `compare(a, b)` to place them otherwise. Order by
  // fields the view allows (its `ordering_fields`): the server ignores the
  // others, and the two orders would differ.
  // Returns {items, ready, unwatch()}: `ready` resolves with the first items
  // (or rejects with the RequestError of a refused query); `unwatch()` ends it.
  watch(stream, params = {}, handlers = {}) {
    const live = {
      stream,
      params,
      handlers,
      compare: handlers.compare ?? orderingCompare(params.ordering),
      items: [],
      id: null, // The server's id for it on the current socket.
      active: true,
      answered: false,
    };
    live.ready = new Promise((resolve, reject) => {
      live.settle = { resolve, reject };
    });
    live.ready.catch(() => {}); // Reported through `ready` only.
    this.watches.add(live);
    if (this.isOpen()) this.sendWatch(live);
    return {
      get items() {
        return live.items;
      },
      ready: live.ready,
      unwatch: () => this.unwatch(live),
    };
  }

  // Presence on one object (PROTOCOL.md "Presence"): join it and keep
  // `members`, who is present (each user once, you included), up to date.
  //   onChange(members, {joined, left})  the join's answer (again after a
  //                                      reconnect), then each arrival and
  //                                      departure
  //   onSignal(from, payload)            another socket present signalled
  //   onError(error)                     the join was refused after a reconnect
  // Joining is allowed to whoever may `retrieve` the object (anonymous users
  // may not: 403). When the object stops being visible to you (made
  // private, deleted) the server takes you out: `members` becomes [] and the
  // presence ends. Returns {members, ready, signal(payload), leave()}: `ready`
  // resolves with the first members (or rejects with the RequestError of a
  // refusal); `signal(payload)` relays an object of at most 1 KiB to the
  // others present (rate-limited: 429); `leave()` ends it.
  presence(stream, lookup, handlers = {}) {
    const room = {
      stream,
      lookup: String(lookup), // As event frames name it.
      handlers,
      members: [],
      active: true,
      answered: false,
    };
    room.ready = new Promise((resolve, reject) => {
      room.settle = { resolve, reject };
    });
    room.ready.catch(() => {}); // Reported through `ready` only.
    this.presences.add(room);
    if (this.isOpen()) this.sendJoin(room);
    return {
      get members() {
        return room.members;
      },
      ready: room.ready,
      signal: (payload = {}) => this.request(stream, "signal", { lookup: room.lookup, payload }),
      leave: () => this.leavePresence(room),
    };
  }

  // Add a connection-state listener, called at once with the current state;
  // returns the function that removes it.
  onStateChange(listener) {
    this.stateListeners.add(listener);
    listener({ state: this.state, code: null, reason: "", attempt: this.attempt, delay: 0 });
    return () => this.stateListeners.delete(listener);
  }

  // Close for good: no reconnect; waiting requests are rejected.
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    globalThis.removeEventListener?.("online", this.online);
    this.failAll("The client is closed.");
    if (this.socket) this.socket.close(1000);
    this.setState("closed", {});
  }

  // Send fresh credentials for this socket's user (PROTOCOL.md "Present
  // credentials"): resolves with the answer, whose data.expires_at says
  // when they expire (null: never); rejects with a RequestError (403:
  // invalid, expired or another user's, and nothing changed; 400: a session
  // cookie's socket). The refreshCredentials option calls it for you.
  reauthenticate(authorization) {
    return this.request("reauthenticate", undefined, { payload: { authorization } });
  }

  // Retry at once when a reconnect is scheduled (e.g. the network is back).
  retryNow() {
    if (this.state !== "reconnecting" || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  isOpen() {
    return this.socket !== null && this.socket.readyState === OPEN && this.state === "open";
  }

  // --- The connection -------------------------------------------------------

  connect() {
    this.setState("connecting", { attempt: this.attempt });
    if (!this.options.ticket) {
      this.open(this.url);
      return;
    }
    Promise.resolve()
      .then(() => this.options.ticket())
      .then(
        (ticket) => {
          if (this.stopped) return;
          const separator = this.url.includes("?") ? "&" : "?";
          this.open(`${this.url}${separator}ticket=${encodeURIComponent(ticket)}`);
        },
        (error) => {
          this.options.onError(error);
          if (!this.stopped) this.scheduleReconnect({ code: null, reason: String(error) });
        },
      );
  }

  open(url) {
    let socket;
    try {
      socket = new this.options.WebSocket(url);
    } catch (error) {
      this.options.onError(error);
      this.scheduleReconnect({ code: null, reason: String(error) });
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.opened(socket);
    socket.onmessage = (message) => this.received(message.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.closed(event);
    };
  }

  opened(socket) {
    if (this.socket !== socket) return;
    this.openedAt = Date.now();
    this.state = "open"; // isOpen() is true from here on.
    // Subscriptions first, then the requests that waited: the server answers
    // frames of one socket in order, so a list sent on "open" reads after
    // the subscriptions are in place and misses no change.
    for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
    for (const live of this.watches) this.sendWatch(live);
    for (const room of this.presences) this.sendJoin(room);
    const waiting = this.queue.splice(0);
    for (const requestId of waiting) this.transmit(requestId);
    this.expiresAt = null;
    this.refreshOn(socket);
    this.setState("open", {});
  }

  // --- Credentials that expire ----------------------------------------------

  // Send refreshCredentials()'s answer on `socket`, then again before the
  // expiry the server answers. A socket that cannot reauthenticate (400) or
  // whose credentials never expire is left alone; refused credentials (403)
  // or a refusal for the frame rate (429) are tried again before expiry.
  refreshOn(socket) {
    clearTimeout(this.refreshTimer);
    if (!this.options.refreshCredentials) return;
    const current = () => this.socket === socket && !this.stopped;
    Promise.resolve()
      .then(() => this.options.refreshCredentials())
      .then((authorization) => (current() ? this.reauthenticate(authorization) : null))
      .then(
        (frame) => {
          if (!frame || !current()) return;
          const expiresAt = frame.data.expires_at;
          this.expiresAt = expiresAt ? Date.parse(expiresAt) : null;
          if (this.expiresAt === null) return;
          const left = this.expiresAt - Date.now();
          this.scheduleRefresh(socket, Math.max(left - this.options.refreshBefore, left / 2, 0));
        },
        (error) => {
          if (!current()) return;
          const left = this.expiresAt === null ? 0 : this.expiresAt - Date.now();
          if ((error.status === 403 || error.status === 429) && left > 0) {
            const wait = typeof error.data?.wait === "number" ? error.data.wait * 1000 : REFRESH_RETRY;
            this.scheduleRefresh(socket, Math.max(500, Math.min(wait, left / 2)));
          }
          this.options.onError(error);
        },
      );
  }

  scheduleRefresh(socket, delay) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refreshOn(socket), delay);
  }

  // Send a subscription's subscribe frame (again, after a reconnect, with
  // `since`). Its first answer settles `ready`; a later refusal goes to
  // onError. A filter the server refuses (4xx) is dropped: sending it again
  // would not help.
  sendSubscribe(subscription) {
    const { key, stream, filter, settle } = subscription;
    const resuming = Boolean(subscription.answered);
    const since = resuming ? this.seqs.get(stream) : undefined;
    const answered = (frame) => {
      settle.resolve(frame); // Only the first answer settles `ready`.
      subscription.answered = true;
      if (!resuming || frame.resumed === true) return;
      const reason = frame.reason ?? (since === undefined ? "no seq" : "not resumed");
      // A "too old" seq may come from before a server restart (an
      // in-process log starts again at 1): forget it, the next event sets it.
      if (since !== undefined && this.seqs.get(stream) === since) this.seqs.delete(stream);
      this.resetSubscription(subscription, reason);
    };
    const refused = (error) => {
      if (!error.frame && !this.isOpen()) return; // Lost socket: re-sent on open.
      if (error.status >= 400 && error.status < 500 && this.subscriptions.get(key) === subscription) {
        this.subscriptions.delete(key);
      }
      if (subscription.answered) this.options.onError(error);
      settle.reject(error);
      subscription.answered = true;
    };
    this.request(stream, "subscribe", { payload: filter, since }).then(answered, refused);
  }

  resetSubscription(subscription, reason) {
    const info = { stream: subscription.stream, filter: subscription.filter, reason };
    const callbacks = new Set(subscription.handlers.values());
    callbacks.delete(null);
    if (!callbacks.size && this.options.onReset) callbacks.add(this.options.onReset);
    for (const callback of callbacks) {
      try {
        callback(info);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }

  // Send a live query's watch frame (again, after a reconnect): its answer
  // is a fresh snapshot, which replaces the items (onReset).
  sendWatch(live) {
    const answered = (frame) => {
      if (!live.active) {
        // Ended while the answer was on its way: end it on the server too.
        if (this.isOpen()) this.unwatchOnServer(live.stream, frame.watch);
        return;
      }
      live.id = frame.watch;
      this.watchIds.set(live.id, live);
      const reconnect = live.answered;
      live.answered = true;
      const data = frame.data;
      const items = Array.isArray(data) ? data : (data?.results ?? []);
      live.items = [...items]; // The server's order: its collation decides.
      live.settle.resolve(live.items); // Only the first answer settles `ready`.
      this.callWatch(live, "onReset", live.items, { reconnect });
    };
    const refused = (error) => {
      if (!error.frame && !this.isOpen()) return; // Lost socket: re-sent on open.
      if (error.status >= 400 && error.status < 500) this.watches.delete(live);
      if (live.answered) {
        this.options.onError(error);
        this.callWatch(live, "onError", error);
      }
      live.settle.reject(error);
      live.answered = true;
    };
    this.request(live.stream, "watch", { payload: live.params }).then(answered, refused);
  }

  unwatch(live) {
    if (!live.active) return Promise.resolve(null);
    live.active = false;
    this.watches.delete(live);
    if (live.id === null) return Promise.resolve(null); // Not answered yet, or gone.
    this.watchIds.delete(live.id);
    const id = live.id;
    live.id = null;
    if (!this.isOpen()) return Promise.resolve(null);
    return this.unwatchOnServer(live.stream, id);
  }

  unwatchOnServer(stream, id) {
    return this.request(stream, "unwatch", { payload: { watch: id } }).catch(() => null);
  }

  // Send a presence's join frame (again, after a reconnect): its answer
  // lists who is present now.
  sendJoin(room) {
    const answered = (frame) => {
      if (!room.active) return; // Left meanwhile: its leave follows this join.
      room.answered = true;
      room.members = [...frame.data.members];
      room.settle.resolve(room.members);
      this.callPresence(room, "onChange", room.members, { joined: room.members, left: [] });
    };
    const refused = (error) => {
      if (!error.frame && !this.isOpen()) return; // Lost socket: re-sent on open.
      if (error.status >= 400 && error.status < 500) {
        room.active = false;
        this.presences.delete(room);
      }
      if (room.answered) {
        this.options.onError(error);
        this.callPresence(room, "onError", error);
      }
      room.settle.reject(error);
      room.answered = true;
    };
    this.request(room.stream, "join", { lookup: room.lookup }).then(answered, refused);
  }

  leavePresence(room) {
    if (!room.active) return Promise.resolve(null);
    room.active = false;
    this.presences.delete(room);
    // Another presence() of this object keeps the socket there.
    for (const other of this.presences) {
      if (other.stream === room.stream && other.lookup === room.lookup) return Promise.resolve(null);
    }
    if (!this.isOpen()) return Promise.resolve(null); // Closing left it already.
    return this.request(room.stream, "leave", { lookup: room.lookup }).catch(() => null);
  }

  // Apply a presence or signal event to a presence, then tell its handlers.
  applyPresence(room, { action, data }) {
    if (action === "signal") {
      this.callPresence(room, "onSignal", data.from, data.payload);
      return;
    }
    const changed = new Set([...data.joined, ...data.left].map((member) => member.id));
    const members = room.members.filter((member) => !changed.has(member.id));
    members.push(...data.joined);
    members.sort(byName); // As the server lists them.
    room.members = members;
    if (!members.length) {
      // Taken out: the object is no longer visible to this user.
      room.active = false;
      this.presences.delete(room);
    }
    this.callPresence(room, "onChange", members, { joined: data.joined, left: data.left });
  }

  callPresence(room, name, ...args) {
    const handler = room.handlers[name];
    if (!handler) return;
    try {
      handler(...args);
    } catch (error) {
      this.options.onError(error);
    }
  }

  // Apply a watch event to the live query's items, then tell its handlers.
  applyWatchEvent(live, { action, data }) {
    const items = live.items;
    const at = items.findIndex((item) => item.id === data.id);
    if (action === "leave") {
      if (at === -1) return;
      const [previous] = items.splice(at, 1);
      this.callWatch(live, "onLeave", previous, items);
      return;
    }
    if (action !== "enter" && action !== "update") return;
    const previous = at === -1 ? null : items[at];
    // A change committed just before the snapshot was read may still come
    // as an update of what the snapshot holds already: nothing to tell.
    if (previous !== null && stableJson(previous) === stableJson(data)) return;
    if (at !== -1) items.splice(at, 1);
    // An object of the query beyond the snapshot's page may update: insert it.
    let index;
    if (live.compare) {
      index = items.findIndex((item) => live.compare(data, item) < 0);
      if (index === -1) index = items.length;
    } else {
      index = at === -1 ? items.length : at;
    }
    items.splice(index, 0, data);
    if (previous === null) this.callWatch(live, "onEnter", data, index, items);
    else this.callWatch(live, "onUpdate", data, previous, index, items);
  }

  callWatch(live, name, ...args) {
    const handler = live.handlers[name];
    if (!handler) return;
    try {
      handler(...args);
    } catch (error) {
      this.options.onError(error);
    }
  }

  closed(event) {
    clearTimeout(this.refreshTimer); // The next socket refreshes its own.
    // The server ended this socket's watches: their ids mean nothing now.
    this.watchIds.clear();
    for (const live of this.watches) live.id = null;
    // Requests already sent may or may not have been carried out: reject
    // them (never re-send a create). Requests still queued keep waiting.
    for (const [requestId, entry] of this.pending) {
      if (entry.sent) this.fail(requestId, `The connection closed (code ${event.code}) before an answer.`);
    }
    if (this.stopped) return;
    this.scheduleReconnect({ code: event.code, reason: event.reason });
  }

  // Exponential backoff with jitter: a server restart must not see every
  // client come back in the same millisecond. 4001 (the session changed) is
  // a close like any other: the new socket carries the new session's user;
  // so is 4009 (this client read too slowly): it resumes with `since`. After
  // 4008 (it sent too fast) it comes back slower: FLOODING_DELAY at least.
  // A browser is not told why a handshake failed (a 429 or 503 is a close
  // without a code): the growing delay is what spreads such retries out.
  scheduleReconnect(info) {
    const { minDelay, maxDelay, stableAfter } = this.options;
    if (this.openedAt !== null && Date.now() - this.openedAt >= stableAfter) this.attempt = 0;
    this.openedAt = null;
    const ceiling = Math.min(maxDelay, minDelay * 2 ** this.attempt);
    let delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    if (info.code === FLOODING) delay = Math.max(delay, FLOODING_DELAY);
    this.attempt += 1;
    this.setState("reconnecting", { ...info, attempt: this.attempt, delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setState(state, info) {
    this.state = state;
    const change = { state, code: null, reason: "", attempt: 0, delay: 0, ...info };
    for (const listener of this.stateListeners) {
      try {
        listener(change);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }

  // --- Frames ---------------------------------------------------------------

  transmit(requestId) {
    const entry = this.pending.get(requestId);
    if (!entry) return; // Timed out while queued.
    entry.sent = true;
    this.socket.send(JSON.stringify(entry.frame));
  }

  received(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      this.options.onError(new Error(`Not JSON from the server: ${text}`));
      return;
    }
    if (frame.type === "event") this.dispatchEvent(frame);
    else if (frame.type === "response") this.settle(frame);
  }

  // The one place events go through: note the stream's seq (for `since`),
  // then route presence and signal events to the presences of their object,
  // a live query's event by its "watch" id, any other to the stream's
  // subscriptions.
  dispatchEvent(frame) {
    if (Number.isInteger(frame.seq)) {
      const seen = this.seqs.get(frame.stream);
      if (seen === undefined || frame.seq > seen) this.seqs.set(frame.stream, frame.seq);
    }
    if (frame.action === "presence" || frame.action === "signal") {
      for (const room of [...this.presences]) {
        if (room.stream === frame.stream && room.lookup === frame.lookup && room.answered) {
          this.applyPresence(room, frame);
        }
      }
      return;
    }
    if (frame.watch !== undefined) {
      const live = this.watchIds.get(frame.watch);
      if (live && live.active && live.stream === frame.stream) this.applyWatchEvent(live, frame);
      return;
    }
    for (const subscription of [...this.subscriptions.values()]) {
      if (subscription.stream !== frame.stream) continue;
      for (const handler of [...subscription.handlers.keys()]) {
        try {
          handler(frame);
        } catch (error) {
          this.options.onError(error);
        }
      }
    }
  }

  settle(frame) {
    const entry = this.pending.get(frame.request_id);
    if (!entry) return; // Timed out already, or not ours.
    this.forget(frame.request_id);
    if (frame.status >= 400) {
      const detail = frame.data && frame.data.detail ? `: ${frame.data.detail}` : "";
      entry.reject(new RequestError(`${frame.stream}/${frame.action} answered ${frame.status}${detail}`, frame));
    } else {
      entry.resolve(frame);
    }
  }

  forget(requestId) {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(requestId);
    const queued = this.queue.indexOf(requestId);
    if (queued !== -1) this.queue.splice(queued, 1);
  }

  fail(requestId, message) {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    this.forget(requestId);
    entry.reject(new RequestError(message));
  }

  failAll(message) {
    for (const requestId of [...this.pending.keys()]) this.fail(requestId, message);
  }
}
