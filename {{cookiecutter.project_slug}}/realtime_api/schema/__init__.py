"""Schema: the API described for tools.

`asyncapi` builds the AsyncAPI 3.0 document of the socket from the registry
(`frame_schemas` holds the JSON Schemas of PROTOCOL.md's frames);
`openapi_errors` documents every HTTP operation's error responses.

Imports: `conf` and `streams` (the registry and the action table).
"""
