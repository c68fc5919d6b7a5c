"""`manage.py demo_data`: demo accounts and topics, in development only."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from discussion.models import Comment, Topic

pytestmark = pytest.mark.django_db


def demo_data():
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


def test_it_creates_two_accounts_and_a_few_topics(settings):
    """alice and bob log in with the printed password; topics, one private."""
    settings.DEBUG = True
    output = demo_data()
    assert "'demo-password'" in output
    for name in ("alice", "bob"):
        assert authenticate(username=name, password="demo-password") is not None
    assert Topic.objects.count() == 3
    assert Topic.objects.filter(is_private=True, owner__username="alice").count() == 1
    assert Comment.objects.count() == 2


def test_running_it_again_adds_nothing(settings):
    """`make demo` runs it every time: the second run keeps what is there."""
    settings.DEBUG = True
    demo_data()
    output = demo_data()
    assert "none added" in output
    assert Topic.objects.count() == 3


def test_it_refuses_to_run_without_debug(settings, django_user_model):
    """Known passwords never reach a deployment: DEBUG off is a clear error."""
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG on only"):
        demo_data()
    assert not django_user_model.objects.filter(username="alice").exists()
