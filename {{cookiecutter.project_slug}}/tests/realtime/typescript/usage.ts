// Uses realtime.js as the README shows, typed by realtime.d.ts; compiled by
// tests/realtime/test_typescript.py with `tsc --noEmit --strict`. Each
// `@ts-expect-error` line must fail to type-check, or tsc reports it.

import {
  type EventFrame,
  type Item,
  type PresenceMember,
  RealtimeClient,
  RequestError,
  STATES,
  orderingCompare,
  socketUrl,
} from "../../../realtime_api/static/realtime_api/realtime.js";

interface Comment extends Item {
  id: number;
  topic: number;
  text: string;
  created: string;
}

interface Topic extends Item {
  id: number;
  title: string;
  closed: boolean;
}

// The topics view's @actions: `topics/close/<id>/` and `topics/mine/`.
const client = new RealtimeClient<"close" | "mine">("/ws/", {
  onStateChange: ({ state, code, delay }) => {
    const known: boolean = STATES.includes(state);
    console.log(known, state, code, delay);
  },
  onReset: ({ stream, reason }) => console.log(stream, reason),
});

const shown = new Map<number, Comment>();
const unsubscribe = client.subscribe<Comment>(
  "comments",
  { topic: 3 },
  (event: EventFrame<Comment | { id: number }>) => {
    // A "leave" (or "delete") carries the id only: drop the item.
    if (event.action === "leave" || event.action === "delete") shown.delete(event.data.id);
    else shown.set(event.data.id, event.data as Comment);
    console.log(event.seq);
  },
  { onReset: ({ filter }) => console.log(filter) },
);

async function main(): Promise<void> {
  const answer = await unsubscribe.ready;
  const matched: number | null = answer.status;
  console.log(matched);

  const live = client.watch<Comment>(
    "comments",
    { topic: 3, search: "pizza", ordering: "-created" },
    {
      onReset: (items, { reconnect }) => console.log(items.length, reconnect),
      onEnter: (item, index, items) => console.log(item.text, index, items.length),
      onUpdate: (item, previous, index) => console.log(item.text, previous.text, index),
      onLeave: (previous, items) => console.log(previous.id, items.length),
    },
  );
  const first: Comment[] = await live.ready;
  console.log(first, live.items);
  await live.unwatch();

  const { data } = await client.request<{ results: Comment[] }>("comments", "list", {
    payload: { topic: 3 },
  });
  console.log(data.results[0]?.text);
  try {
    await client.request("comments", "update", { lookup: 5, payload: { text: "" } });
  } catch (error) {
    if (error instanceof RequestError) console.log(error.status, error.data, error.frame?.request_id);
  }
  await unsubscribe();

  // An @action of the view, and a PUT beside `update`'s PATCH.
  const closed = await client.request<Topic>("topics", "close", { lookup: 3, method: "post" });
  console.log(closed.data.closed === true);
  const mine = await client.request<{ results: Topic[] }>("topics", "mine", {
    payload: { page: 1 },
  });
  console.log(mine.data.results.length);
  await client.request("topics", "replace", { lookup: 3, payload: { title: "t", is_private: false } });

  // Who else is on topic 3, and who is typing.
  const here = client.presence("topics", 3, {
    onChange: (members: PresenceMember[], { joined, left }) =>
      console.log(members.map((member) => member.name), joined.length, left.length),
    onSignal: (from, payload) => console.log(from.name, payload.typing === true),
  });
  const present: PresenceMember[] = await here.ready;
  console.log(present[0]?.id, here.members.length);
  await here.signal({ typing: true });
  await here.leave();

  const compare = orderingCompare("-created,id");
  console.log(compare?.({ id: 1 }, { id: 2 }), socketUrl("/ws/"), client.isOpen());
  const stop = client.onStateChange(({ state }) => console.log(state));
  stop();
  client.retryNow();
  client.close();
}

// A page on another origin: a fresh ticket for every connection.
const elsewhere = new RealtimeClient("wss://api.example.com/ws/", {
  ticket: async () => {
    const response = await fetch("https://api.example.com/api/realtime/ticket/", {
      method: "POST",
      headers: { Authorization: "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b" },
    });
    const { ticket } = (await response.json()) as { ticket: string; expires_in: number };
    return ticket;
  },
});
elsewhere.close();

// The declarations are strict enough to catch mistakes:
// @ts-expect-error: not an action of the protocol.
client.request("comments", "frobnicate");
// @ts-expect-error: "close" is not one of the @actions this client was given.
elsewhere.request("topics", "close", { lookup: 3 });
// @ts-expect-error: not an HTTP method.
client.request("topics", "close", { lookup: 3, method: "fly" });
// @ts-expect-error: a payload is an object, not a string.
client.request("comments", "create", { payload: "text" });
// @ts-expect-error: watch handlers get items, not frames.
client.watch<Comment>("comments", {}, { onEnter: (item: string) => item });
// @ts-expect-error: a signal's payload is an object.
client.presence("topics", 3).signal("typing");
// @ts-expect-error: the state is one of STATES.
const wrong: "online" = client.state;

void main;
void wrong;

// Credentials that expire: refreshed before expiry through a callback.
const refreshing = new RealtimeClient("/ws/", {
  refreshCredentials: async () => `Bearer ${await Promise.resolve("new-token")}`,
  refreshBefore: 30000,
});
refreshing.reauthenticate("Bearer abc").then((frame) => {
  const expiresAt: string | null = frame.data.expires_at;
  console.log(expiresAt && new Date(expiresAt));
});
// @ts-expect-error: refreshCredentials returns the header value, not a number.
new RealtimeClient("/ws/", { refreshCredentials: () => 42 });
