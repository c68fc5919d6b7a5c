"""The equal-work comparison's own app: one plain model, served three ways.

`python -m bench --peers` compares our stream with DCRF 1.3 and a bare
Channels consumer doing the same work: a plain `ModelViewSet` (`AllowAny`,
a plain `ModelSerializer`) over `Comment(topic: int, text, created)`, the
shape a peer's tutorial uses. Each server gets a table of its own, so that
no one's save signal fires for another's writes.

Installed by bench/settings.py only: `manage.py migrate` with the project's
own settings never creates these tables.

- models.py: the three same-shaped tables;
- views.py: the plain serializer and viewset (ours and DCRF's);
- streams.py: the viewset as our stream `peer-comments`, and the registry
  bench/settings.py serves;
- consumers.py: the bare consumer; dcrf.py: DCRF's (optional extra);
- costs.py: `python -m bench.peer.costs`, where the sample view's cost goes;
- inprocess.py: `python -m bench.peer.inprocess`, CPU per create without a
  server (less noise than the server's figure).
"""
