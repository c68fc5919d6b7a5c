"""Settings, one module per environment.

- ``config.settings.dev``: the default of ``manage.py`` and ``config/asgi.py``.
- ``config.settings.test``: what ``pytest`` uses (see ``pyproject.toml``).
- ``config.settings.production``: set ``DJANGO_SETTINGS_MODULE`` to it on servers.

Each imports ``base`` and changes what differs. The environment is read
through the ``env`` of ``config.settings.environment`` (django-environ), which
also reads ``.env``; the realtime app's defaults come from
``realtime_api/defaults.py``.
"""
