"""The streams of the WebSocket API: what /ws/ serves, and whose changes it sends.

This registry is to the socket what the router in urls.py is to HTTP: register
each endpoint here (REALTIME_API_REGISTRY in the settings names it). Routing,
broadcasting and the schema read it; nothing registers itself on import.
"""

{% if cookiecutter.include_sample_app == "y" %}from discussion.streams import CommentStream, TopicStream
{% endif %}from realtime_api.api import Registry

registry = Registry()
{%- if cookiecutter.include_sample_app == "y" %}
registry.register(TopicStream, CommentStream)
{%- endif %}
