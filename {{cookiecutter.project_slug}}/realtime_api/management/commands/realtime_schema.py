"""`manage.py realtime_schema`: print the WebSocket API's AsyncAPI 3.0 document."""

import json

from django.core.management.base import BaseCommand

from realtime_api.schema.asyncapi import build_document


class Command(BaseCommand):
    help = (
        "Print the AsyncAPI 3.0 document of the WebSocket API (the registered "
        "streams), as /api/realtime/asyncapi.json serves it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            help="The server's host[:port] in the document (default: the first "
            "of ALLOWED_HOSTS).",
        )
        parser.add_argument(
            "--secure", action="store_true", help="The server speaks wss://."
        )
        parser.add_argument("--file", help="Write the document to this file.")

    def handle(self, *args, host=None, secure=False, file=None, **options):
        document = build_document(host=host, secure=secure)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if file:
            with open(file, "w", encoding="utf-8") as output:
                output.write(text)
        else:
            self.stdout.write(text, ending="")
