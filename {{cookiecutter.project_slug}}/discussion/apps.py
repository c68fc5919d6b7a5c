from django.apps import AppConfig


class DiscussionConfig(AppConfig):
    """The sample app: topics and their comments, over HTTP and WebSockets."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "discussion"
    verbose_name = "Discussion"
