"""The project's URLs plus the test app's API, at /api/folders/ and /api/notes/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from config.urls import urlpatterns as project_urlpatterns

from .views import FolderViewSet, NoteViewSet, StatsViewSet, WordViewSet

router = SimpleRouter()
router.register("folders", FolderViewSet, basename="folder")
router.register("notes", NoteViewSet, basename="note")
router.register("stats", StatsViewSet, basename="stats")
router.register("words", WordViewSet, basename="words")

urlpatterns = [path("api/", include(router.urls)), *project_urlpatterns]
