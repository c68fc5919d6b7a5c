// Type declarations of realtime.js, the browser client of the realtime API
// (realtime_api/PROTOCOL.md). Keep them next to realtime.js: TypeScript reads
// them for `import ... from "./realtime.js"`. Checked by `tsc --noEmit` in
// tests/realtime/test_typescript.py.

/** A JSON value as frames carry it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An object as the API renders it (what `retrieve` answers). */
export interface Item {
  id: number | string;
  [field: string]: Json;
}

/**
 * The protocol's request actions (realtime_api/streams/actions.py's table; a test
 * checks the two agree). A view's @actions are named by their url_path: give
 * them to the client's type, `new RealtimeClient<"close" | "mine">()`.
 */
export type Action =
  | "list"
  | "retrieve"
  | "create"
  | "update"
  | "replace"
  | "delete"
  | "options"
  | "subscribe"
  | "unsubscribe"
  | "watch"
  | "unwatch"
  | "join"
  | "leave"
  | "signal";

/** The answer to one request frame: the HTTP status and body of its HTTP twin. */
export interface ResponseFrame<Data = Json> {
  type: "response";
  stream: string | null;
  action: string | null;
  lookup?: string;
  request_id: string | number | null;
  status: number;
  data: Data;
  /** `watch`: the live query's id. */
  watch?: string;
  /** `subscribe` with `since`: whether the missed events follow. */
  resumed?: boolean;
  /** `subscribe` with `since`, not resumed: "too old" or "too many changes". */
  reason?: string;
  /** `subscribe` with `since`, not resumed: re-read, subscribe without `since`. */
  gap?: boolean;
}

/** A change to an object a subscription matches (or a live query's event). */
export interface EventFrame<Data = Item> {
  type: "event";
  stream: string;
  /**
   * Subscriptions: "create", "update", "delete", or "leave" (the object is no
   * longer visible to you, or no longer in the subscription: drop it; `data`
   * is then `{id}`). Live queries: "enter", "update", "leave".
   */
  action: "create" | "update" | "delete" | "leave" | "enter";
  /** Grows with every change on the stream; subscribe with `since` after it. */
  seq: number;
  data: Data;
  /** The live query this event belongs to. */
  watch?: string;
}

/** A user present on an object, as the endpoint's get_presence_member() shows them. */
export interface PresenceMember {
  id: number | string;
  name: string;
  [field: string]: Json;
}

/** Who arrived on (or left) an object joined with `presence()`; no `seq`. */
export interface PresenceEventFrame {
  type: "event";
  stream: string;
  action: "presence" | "signal";
  /** The object's lookup. */
  lookup: string;
  data:
    | { joined: PresenceMember[]; left: PresenceMember[] }
    | { from: PresenceMember; payload: { [key: string]: Json } };
}

export interface PresenceHandlers {
  /** The join's answer (again after a reconnect), then every arrival and departure. */
  onChange?: (
    members: PresenceMember[],
    change: { joined: PresenceMember[]; left: PresenceMember[] },
  ) => void;
  /** Another socket present sent `signal(payload)`. */
  onSignal?: (from: PresenceMember, payload: { [key: string]: Json }) => void;
  /** The join was refused after a reconnect. */
  onError?: (error: RequestError) => void;
}

export interface Presence {
  /** Who is present, each user once, you included; [] once taken out. */
  readonly members: PresenceMember[];
  /** Resolves with the first members; rejects with the RequestError of a refusal. */
  ready: Promise<PresenceMember[]>;
  /** Relay `payload` (at most 1 KiB as JSON) to the others present. */
  signal(payload?: Record<string, Json>): Promise<ResponseFrame>;
  leave(): Promise<ResponseFrame | null>;
}

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export declare const STATES: readonly ConnectionState[];

export interface StateChange {
  state: ConnectionState;
  /** The close code that caused "reconnecting" (4001: the session changed). */
  code: number | null;
  reason: string;
  attempt: number;
  /** Milliseconds until the next attempt. */
  delay: number;
}

export interface ResetInfo {
  stream: string;
  filter: Record<string, Json>;
  /** "too old", "no seq" or "not resumed": read what you show again. */
  reason: string;
}

export interface ClientOptions {
  /** How long a request may take, waiting for a connection included (ms). */
  timeout?: number;
  /** Requests that may wait for a connection at once. */
  maxQueued?: number;
  /** Reconnect delays (ms): doubling from minDelay up to maxDelay, with jitter. */
  minDelay?: number;
  maxDelay?: number;
  /**
   * How long (ms) a socket must stay open before the reconnect delays start
   * again from minDelay (default 5000; 0: on every open).
   */
  stableAfter?: number;
  onStateChange?: ((change: StateChange) => void) | null;
  onError?: (error: Error) => void;
  /** For subscriptions without an `onReset` of their own. */
  onReset?: ((info: ResetInfo) => void) | null;
  /** The WebSocket class (inject one outside browsers). */
  WebSocket?: new (url: string) => WebSocket;
  /**
   * Pages on another origin: a fresh ticket (POST /api/realtime/ticket/) for
   * every connection, added to the URL as `?ticket=`.
   */
  ticket?: (() => string | Promise<string>) | null;
  /**
   * Credentials that expire: a fresh Authorization header value ("Bearer
   * ..."), sent in a `reauthenticate` frame on each open socket and again
   * `refreshBefore` ms before the expiry the server answers.
   */
  refreshCredentials?: (() => string | Promise<string>) | null;
  refreshBefore?: number;
}

/** The answer to `reauthenticate`: when the socket's credentials now expire. */
export interface ReauthenticateData {
  /** ISO 8601 (UTC); null: they never expire. */
  expires_at: string | null;
}

export interface RequestOptions {
  lookup?: string | number | null;
  payload?: Record<string, Json>;
  timeout?: number;
  /** `subscribe` only: resume after this seq. */
  since?: number | null;
  /** An @action mapped to several HTTP methods: which (default: its first). */
  method?: HttpMethod;
}

/** The HTTP methods a frame's "method" may name. */
export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** A request answered with an error status (>= 400), or not answered at all. */
export declare class RequestError extends Error {
  constructor(message: string, frame?: ResponseFrame | null);
  name: "RequestError";
  /** The response frame, or null (timeout, lost socket). */
  frame: ResponseFrame | null;
  status: number | null;
  /** The error body: `{detail}` or the serializer's field errors. */
  data: Json;
}

/** What `subscribe` returns: call it to unsubscribe. */
export interface Unsubscribe {
  (): Promise<ResponseFrame | null>;
  /** Settles with the first subscribe answer; rejects with a RequestError. */
  ready: Promise<ResponseFrame>;
}

export interface WatchHandlers<T extends Item = Item> {
  /** The snapshot: first, and after every reconnect. */
  onReset?: (items: T[], info: { reconnect: boolean }) => void;
  onEnter?: (item: T, index: number, items: T[]) => void;
  onUpdate?: (item: T, previous: T, index: number, items: T[]) => void;
  /** Deleted, changed out of the query, or no longer visible. */
  onLeave?: (previous: T, items: T[]) => void;
  /** Refused after a reconnect. */
  onError?: (error: RequestError) => void;
  /** Place entering and changed objects (the `ordering` param by default). */
  compare?: (a: T, b: T) => number;
}

export interface LiveQuery<T extends Item = Item> {
  /** The ordered local copy of the list. */
  readonly items: T[];
  /** Resolves with the first items; rejects with the RequestError of a refusal. */
  ready: Promise<T[]>;
  unwatch(): Promise<ResponseFrame | null>;
}

/** The socket URL for a path on this page's host: "/ws/" -> "wss://host/ws/". */
export declare function socketUrl(path?: string): string;

/** The comparison of an `ordering` param ("-created,title"), ties by id; or null. */
export declare function orderingCompare(
  ordering: string | string[] | null | undefined,
): ((a: Item, b: Item) => number) | null;

/** `Extra`: the url_paths of the views' @actions this client calls. */
export declare class RealtimeClient<Extra extends string = never> {
  constructor(url?: string, options?: ClientOptions);
  readonly url: string;
  readonly options: Required<ClientOptions>;
  readonly state: ConnectionState;

  /** Send a request frame; resolve with its response (status < 400). */
  request<Data = Json>(
    stream: string,
    action: Action | Extra,
    options?: RequestOptions,
  ): Promise<ResponseFrame<Data>>;

  /** Receive every event of `stream` on this socket while subscribed. */
  subscribe<T extends Item = Item>(
    stream: string,
    filter: Record<string, Json>,
    onEvent: (event: EventFrame<T | { id: T["id"] }>) => void,
    options?: { onReset?: (info: ResetInfo) => void },
  ): Unsubscribe;

  /** A live query: `params` is what `list` takes. */
  watch<T extends Item = Item>(
    stream: string,
    params?: Record<string, Json>,
    handlers?: WatchHandlers<T>,
  ): LiveQuery<T>;

  /** Join an object's presence: who is there, live, and their signals. */
  presence(stream: string, lookup: string | number, handlers?: PresenceHandlers): Presence;

  /** Fresh credentials for this socket's user (403: refused, nothing changes). */
  reauthenticate(authorization: string): Promise<ResponseFrame<ReauthenticateData>>;

  /** Listen to connection states (called at once with the current one). */
  onStateChange(listener: (change: StateChange) => void): () => boolean;

  /** Close for good: no reconnect; waiting requests are rejected. */
  close(): void;

  /** Retry at once when a reconnect is scheduled. */
  retryNow(): void;

  isOpen(): boolean;
}
