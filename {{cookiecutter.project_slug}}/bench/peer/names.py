"""Names the peer app's consumers and the bench's client agree on.

Here, not in dcrf.py, so that the client can name DCRF's action without
importing DCRF (an optional extra).
"""

# Our stream's name (streams.py).
STREAM = "peer-comments"
# The one action DcrfCommentConsumer (dcrf.py) adds to DCRF's mixins:
# join a topic's group.
DCRF_SUBSCRIBE_ACTION = "subscribe_to_topic"
