// realtime.js: a small, dependency-free client of the realtime API.
//
// It speaks the wire protocol of realtime_api/PROTOCOL.md over one
// multiplexed WebSocket: requests answered by response frames (matched by
// request_id), subscriptions that deliver event frames, and a reconnect
// loop that re-sends every active subscription. Copy it into your frontend
// as it is; it is an ES module for browsers (no build step needed).
//
//   import { RealtimeClient } from "/static/realtime_api/realtime.js";
//
//   const client = new RealtimeClient("/ws/", {
//     onStateChange: ({ state }) => console.log("socket:", state),
//   });
//   const unsubscribe = client.subscribe("comments", { topic: 3 }, (event) => {
//     console.log(event.action, event.data); // "create" | "update" | "delete"
//   });
//   const { data } = await client.request("comments", "list", { payload: { topic: 3 } });
//   try {
//     await client.request("comments", "create", { payload: { topic: 3, text: "" } });
//   } catch (error) {
//     console.log(error.status, error.frame?.data); // 400 {text: ["This field ..."]}
//   }
//   unsubscribe();

const OPEN = 1; // WebSocket.OPEN, also where no WebSocket global exists.

// Connection states, as passed to onStateChange:
//   "connecting"   a socket is opening (the first time or again)
//   "open"         connected; subscriptions have been re-sent
//   "reconnecting" the socket closed; the next attempt is scheduled
//   "closed"       close() was called: no more attempts
export const STATES = Object.freeze(["connecting", "open", "reconnecting", "closed"]);

const DEFAULTS = {
  // How long a request may take, waiting for a connection included (ms).
  timeout: 10000,
  // Requests that may wait for a connection at once; more are refused.
  maxQueued: 100,
  // Reconnect delays: the first retry waits about minDelay, each failed
  // attempt doubles it, up to maxDelay; jitter spreads clients apart.
  minDelay: 500,
  maxDelay: 10000,
  // Called with {state, code, reason, attempt, delay} on every change.
  onStateChange: null,
  // Called with an Error when a subscription is refused after a reconnect
  // (its first answer rejects the `ready` promise instead).
  onError: (error) => console.error("realtime:", error),
  // The WebSocket class (inject one outside browsers, e.g. in Node < 22).
  WebSocket: globalThis.WebSocket,
};

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

export class RealtimeClient {
  constructor(url = "/ws/", options = {}) {
    this.url = socketUrl(url);
    this.options = { ...DEFAULTS, ...options };
    this.state = "closed";
    this.socket = null;
    this.attempt = 0; // Failed attempts since the last open socket.
    this.pending = new Map(); // request_id -> {resolve, reject, timer, frame, sent}
    this.queue = []; // request_ids waiting for an open socket, in order
    this.subscriptions = new Map(); // key -> {stream, filter, handlers: Set}
    this.stateListeners = new Set();
    this.nextId = 1;
    this.retryTimer = null;
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
  // `timeout` ms in all.
  request(stream, action, { lookup, payload = {}, timeout } = {}) {
    const requestId = `r${this.nextId++}`;
    // The structured form of a request frame: no lookup to escape in a path.
    const frame = { stream, action, payload, request_id: requestId };
    if (lookup !== undefined && lookup !== null) frame.lookup = lookup;
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
  // subscribe answer. The subscription is re-sent after every reconnect.
  //
  // Event frames do not say which subscription they answer, so every
  // handler of a stream sees every event of that stream on this socket.
  subscribe(stream, filter, onEvent) {
    const key = `${stream} ${stableJson(filter)}`;
    let subscription = this.subscriptions.get(key);
    if (!subscription) {
      subscription = { key, stream, filter, handlers: new Set() };
      subscription.ready = new Promise((resolve, reject) => {
        subscription.settle = { resolve, reject };
      });
      subscription.ready.catch(() => {}); // Reported through `ready` only.
      this.subscriptions.set(key, subscription);
      // Not open: opened() sends it, with every other subscription.
      if (this.isOpen()) this.sendSubscribe(subscription);
    }
    const handler = (frame) => onEvent(frame);
    subscription.handlers.add(handler);
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
    globalThis.removeEventListener?.("online", this.online);
    this.failAll("The client is closed.");
    if (this.socket) this.socket.close(1000);
    this.setState("closed", {});
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
    let socket;
    try {
      socket = new this.options.WebSocket(this.url);
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
    this.attempt = 0;
    this.state = "open"; // isOpen() is true from here on.
    // Subscriptions first, then the requests that waited: the server answers
    // frames of one socket in order, so a list sent on "open" reads after
    // the subscriptions are in place and misses no change.
    for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
    const waiting = this.queue.splice(0);
    for (const requestId of waiting) this.transmit(requestId);
    this.setState("open", {});
  }

  // Send a subscription's subscribe frame (again, after a reconnect). Its
  // first answer settles `ready`; a later refusal goes to onError. A filter
  // the server refuses (4xx) is dropped: sending it again would not help.
  sendSubscribe(subscription) {
    const { key, stream, filter, settle } = subscription;
    const answered = (frame) => {
      settle.resolve(frame); // Only the first answer settles `ready`.
      subscription.answered = true;
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
    this.request(stream, "subscribe", { payload: filter }).then(answered, refused);
  }

  closed(event) {
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
  // a close like any other: the new socket carries the new session's user.
  scheduleReconnect(info) {
    const { minDelay, maxDelay } = this.options;
    const ceiling = Math.min(maxDelay, minDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
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

  // One place that routes events: a `watch` frame would be routed by its
  // "watch" id here, next to the per-stream subscriptions.
  dispatchEvent(frame) {
    for (const subscription of [...this.subscriptions.values()]) {
      if (subscription.stream !== frame.stream) continue;
      for (const handler of [...subscription.handlers]) {
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
