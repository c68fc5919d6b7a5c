"""What the load creates and subscribes to, and what it does by default."""

from dataclasses import dataclass, field


@dataclass
class Scenario:
    """What the load creates over the socket, and what the reference writes.

    In `payload` and `subscribe`, the string "{parent}" stands for the id of
    the parent object created first, and "{i}" for the number of the create.
    """

    stream: str
    payload: dict
    subscribe: dict = field(default_factory=dict)  # W2, W2u and W4's filter
    parent_stream: str | None = None  # Create one object here first.
    parent_payload: dict = field(default_factory=dict)
    # The model behind `stream`: what the reference endpoint writes instead.
    model: str | None = None


{%- if cookiecutter.include_sample_app == "y" %}


# The sample app's comments, in a topic the load creates first.
DEFAULT = Scenario(
    stream="comments",
    payload={"topic": "{parent}", "text": "bench {i}"},
    subscribe={"topic": "{parent}"},
    parent_stream="topics",
    parent_payload={"title": "bench"},
    model="discussion.Comment",
)
{%- else %}


# No default: without the sample app there is no stream to assume, so the
# command line says what to create (--stream, --payload, --subscribe, --model).
DEFAULT = None
{%- endif %}


def fill(template, parent, i=0):
    """Replace "{parent}" and "{i}" in a JSON template (see Scenario)."""
    if isinstance(template, dict):
        return {key: fill(value, parent, i) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, parent, i) for value in template]
    if isinstance(template, str):
        if template == "{parent}":
            return parent
        return template.replace("{parent}", str(parent)).replace("{i}", str(i))
    return template
