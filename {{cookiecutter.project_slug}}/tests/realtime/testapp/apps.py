from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.realtime.testapp"
    label = "testapp"
    verbose_name = "Realtime API test app"
