"""The command line: python -m realtime_api.client URL STREAM ACTION [PAYLOAD].

Sends one request and prints its answer; `subscribe` and `watch` then print
every change, one JSON object a line, until interrupted. See --help.
"""

import argparse
import asyncio
import json
import sys

from .errors import RealtimeError
from .realtime_client import RealtimeClient


def main(argv=None):
    """python -m realtime_api.client URL STREAM ACTION [PAYLOAD]: see --help."""
    parser = argparse.ArgumentParser(
        prog="python -m realtime_api.client",
        description="Send one request to the realtime API and print its answer; "
        "`subscribe` and `watch` then print every change, one JSON a line, "
        "until interrupted (reconnecting as needed).",
    )
    parser.add_argument("url", help="the socket, e.g. ws://127.0.0.1:8000/ws/")
    parser.add_argument("stream", help="e.g. comments")
    parser.add_argument(
        "action",
        help="list, retrieve, create, update, replace, delete, options, subscribe, "
        "watch, or one of the view's @actions (its url_path, e.g. close)",
    )
    parser.add_argument(
        "payload",
        nargs="?",
        default="{}",
        help="the payload, a JSON object (default {})",
    )
    parser.add_argument(
        "--lookup", help="the object's lookup (retrieve, update, delete, close...)"
    )
    parser.add_argument(
        "--method",
        choices=["get", "post", "put", "patch", "delete"],
        help="an @action mapped to several HTTP methods: which (default: its first)",
    )
    credentials = parser.add_mutually_exclusive_group()
    credentials.add_argument("--token", help="an API token: Authorization: Token ...")
    credentials.add_argument(
        "--authorization", help='a whole header, e.g. "Bearer ..."'
    )
    credentials.add_argument("--cookie", help='browser cookies, e.g. "sessionid=..."')
    credentials.add_argument(
        "--ticket", help="a ticket from POST /api/realtime/ticket/"
    )
    parser.add_argument(
        "--origin",
        default="auto",
        help="the Origin to send (default: the server's own, "
        "unless a header authenticates)",
    )
    # Options may come after the payload too: `update --lookup 1 '{...}'`.
    args = parser.parse_intermixed_args(argv)
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        parser.error(f"PAYLOAD is not JSON: {exc}")
    if not isinstance(payload, dict):
        parser.error("PAYLOAD must be a JSON object, e.g. '{\"topic\": 1}'")
    try:
        return asyncio.run(run_command(args, payload))
    except KeyboardInterrupt:
        return 130


async def run_command(args, payload):
    def say(state, info):
        if state == "reconnecting":
            print(
                f"closed ({info['code']}), reconnecting in {info['delay']:.1f} s",
                file=sys.stderr,
            )

    client = RealtimeClient(
        args.url,
        token=args.token,
        authorization=args.authorization,
        cookie=args.cookie,
        ticket=args.ticket,
        origin=None if args.origin == "none" else args.origin,
        on_state_change=say,
        on_reset=lambda info: print_line({"action": "reset", **info}),
    )
    try:
        async with client:
            if args.action == "watch":
                live = await client.watch(args.stream, payload)
                print_line({"action": "snapshot", "items": live.items})
                async for change in live:
                    print_line(change_line(change))
            elif args.action == "subscribe":
                subscription = await client.subscribe(args.stream, payload)
                print_line(subscription.response["data"])
                async for event in subscription:
                    print_line(event)
            else:
                response = await client.request(
                    args.stream, args.action, args.lookup, payload, method=args.method
                )
                print(json.dumps(response["data"], indent=2, ensure_ascii=False))
    except (RealtimeError, OSError, TimeoutError) as exc:
        body = getattr(exc, "data", None)
        print(f"{exc}" + (f"\n{json.dumps(body)}" if body else ""), file=sys.stderr)
        return 1
    return 0


def change_line(change):
    if change.action == "reset":
        return {"action": "reset", "items": change.items}
    line = {"action": change.action, "data": change.item}
    if change.index is not None:
        line["index"] = change.index
    return line


def print_line(data):
    print(json.dumps(data, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
