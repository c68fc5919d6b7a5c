"""The DCRF column: djangochannelsrestframework 1.3's generic consumer.

Written as DCRF's own docs write it (`CreateModelMixin` on a
`GenericAsyncAPIConsumer`, a `model_observer` with `groups_for_signal` and
`groups_for_consumer` for "a collection of models"), with the serializer
our stream uses, on a table of its own. DCRF speaks its own frames
(`{"action": "create", "data": ...}`): bench/peers_client.py speaks them.

DCRF is the optional `bench-peers` extra, never a dependency: import this
module only when `djangochannelsrestframework` is installed.
"""

from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import CreateModelMixin
from djangochannelsrestframework.observer import model_observer
from djangochannelsrestframework.permissions import AllowAny

from .models import DcrfComment
from .views import DcrfCommentSerializer


def topic_group(topic):
    return f"peer-dcrf-topic-{topic}"


class DcrfCommentConsumer(CreateModelMixin, GenericAsyncAPIConsumer):
    queryset = DcrfComment.objects.all()
    serializer_class = DcrfCommentSerializer
    permission_classes = (AllowAny,)

    # serializer_class: DCRF serializes each change once, in the signal.
    @model_observer(DcrfComment, serializer_class=DcrfCommentSerializer)
    async def comment_activity(
        self, message, action, subscribing_request_ids=(), **kwargs
    ):
        for request_id in subscribing_request_ids:
            await self.reply(data=message, action=action, request_id=request_id)

    @comment_activity.groups_for_signal
    def comment_activity(self, instance, **kwargs):
        yield topic_group(instance.topic)

    @comment_activity.groups_for_consumer
    def comment_activity(self, topic=None, **kwargs):
        if topic is not None:
            yield topic_group(topic)

    @action()
    async def subscribe_to_topic(self, topic, request_id, **kwargs):
        """Follow one topic's creates (names.DCRF_SUBSCRIBE_ACTION)."""
        await self.comment_activity.subscribe(topic=topic, request_id=request_id)
        return {"topic": topic}, 200
