"""Check frames against the AsyncAPI document: does the server do what it says?

The test helpers (AuthWebsocketCommunicator, and the Python client of the
live-server tests) write what each socket sends and receives into a
`FrameRecorder` while the pytest plugin runs one; at the end of the run
`FrameChecker` validates every frame against the project's document:

- every frame received: a response against its action's reply (or the
  error response), an event against its stream's event messages;
- every request frame the server accepted (2xx) against its action's
  request message. A refused request is not checked (tests send bad frames
  on purpose); its error response is.

Frames of streams the document does not describe (test-only registries) are
counted, not checked.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

DOCUMENT_URI = "urn:realtime-api:asyncapi"
EVENT_MESSAGES: dict[tuple[bool, str | None], str] = {
    (False, "create"): "changeEvent",
    (False, "update"): "changeEvent",
    (False, "delete"): "deleteEvent",
    (False, "leave"): "deleteEvent",
    (True, "enter"): "watchChangeEvent",
    (True, "update"): "watchChangeEvent",
    (True, "leave"): "watchLeaveEvent",
    (False, "presence"): "presenceEvent",
    (False, "signal"): "signalEvent",
}


class Transcript:
    """What one client sent and received, in order; "open" starts a new socket."""

    def __init__(self) -> None:
        # (direction, text or None for a binary frame)
        self.frames: list[tuple[str, str | None]] = []

    def record(self, direction: str, text: object = None) -> None:
        """Record "open", "send" or "receive" (with the frame's text)."""
        self.frames.append((direction, text if isinstance(text, str) else None))


@dataclass
class FrameRecorder:
    """The transcripts of every client of a test run."""

    transcripts: list[Transcript] = field(default_factory=list)

    def transcript(self) -> Transcript:
        transcript = Transcript()
        self.transcripts.append(transcript)
        return transcript


@dataclass
class Report:
    checked: int = 0
    undescribed: int = 0  # frames of streams the document does not describe
    problems: list[str] = field(default_factory=list)


class FrameChecker:
    """Validate frames against the messages of an AsyncAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT7)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.validators: dict[str, Draft7Validator] = {}  # JSON pointer -> validator

    def check(self, transcripts: Iterable[Transcript]) -> Report:
        """Return a Report on every frame of `transcripts`."""
        report = Report()
        for transcript in transcripts:
            self.check_transcript(transcript, report)
        return report

    def check_transcript(self, transcript: Transcript, report: Report) -> None:
        # Requests not answered yet: answers come in order.
        sent: deque[str | None] = deque()
        for direction, text in transcript.frames:
            if direction == "open":
                sent.clear()
            elif direction == "send":
                sent.append(text)
            elif text is not None:
                frame: dict[str, Any] = json.loads(text)
                request = (
                    sent.popleft() if frame.get("type") == "response" and sent else None
                )
                self.check_frame(frame, text, request, report)

    def check_frame(
        self, frame: dict[str, Any], text: str, request: str | None, report: Report
    ) -> None:
        pointer = self.message_of(frame)
        if pointer is None:
            report.undescribed += 1
            return
        self.validate(pointer, frame, text, report)
        if request is not None and frame.get("status", 500) < 400:
            request_pointer = pointer.replace("Response/payload", "Request/payload")
            try:
                request_frame = json.loads(request)
            except ValueError:
                request_frame = request
            self.validate(request_pointer, request_frame, request, report)

    def message_of(self, frame: dict[str, Any]) -> str | None:
        """The JSON pointer of the message `frame` must match, or None."""
        if frame.get("type") == "response" and isinstance(frame.get("status"), int):
            if frame["status"] >= 400:
                return "/components/messages/errorResponse/payload"
            # A reauthenticate response has no action: its stream names it.
            name = f"{frame.get('action') or frame.get('stream')}Response"
        elif frame.get("type") == "event":
            name = EVENT_MESSAGES.get(("watch" in frame, frame.get("action")), "")
        else:
            return "/"  # Neither: it cannot validate against any message.
        channel = self.document["channels"].get(frame.get("stream"))
        if channel is None:
            return None
        if name not in channel["messages"]:
            return "/"
        return f"/channels/{escape(frame['stream'])}/messages/{name}/payload"

    def validate(self, pointer: str, frame: Any, text: str, report: Report) -> None:
        report.checked += 1
        if pointer == "/":
            report.problems.append(f"No message of the document describes {text}")
            return
        validator = self.validators.get(pointer)
        if validator is None:
            schema = {"$ref": f"{DOCUMENT_URI}#{pointer}"}
            validator = Draft7Validator(schema, registry=self.registry)
            self.validators[pointer] = validator
        error = next(iter(validator.iter_errors(frame)), None)
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "the frame"
            report.problems.append(
                f"{text[:300]}\n    does not match {pointer}: {where}: "
                f"{error.message[:300]}"
            )


def escape(name: str) -> str:
    """A key inside a JSON pointer."""
    return name.replace("~", "~0").replace("/", "~1")
