"""The project's ASGI application plus its static files, as `runserver` serves it.

The browser tests run daphne on this: plain `daphne config.asgi:application`
serves no static files (in production the web server in front does), and the
demo page needs its scripts.
"""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from config.asgi import application as project_application

application = ASGIStaticFilesHandler(project_application)
