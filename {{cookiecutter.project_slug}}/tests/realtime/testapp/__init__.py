"""A test-only app: what the framework's own tests serve over the socket.

Folders and their notes, with the rules a real project's models have and the
framework must get right: private objects visible to their owner only,
related visibility (a note is visible when its folder is), ownership checked
on writes, a field rendered for each user, filters, search, ordering,
pagination. Only the test settings install it (config/settings/test.py);
`tests/realtime/conftest.py` serves its registry and URLs.
"""
