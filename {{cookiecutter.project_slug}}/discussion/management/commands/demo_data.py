"""`manage.py demo_data`: two demo accounts and a few topics, for development.

So that two browser windows show live updates within a minute of the first
command (`make demo` runs it). It refuses to run unless DEBUG is on: demo
accounts with known passwords must never reach a deployment.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from discussion.models import Comment, Topic

PASSWORD = "demo-password"
ACCOUNTS = ("alice", "bob")


class Command(BaseCommand):
    help = (
        "Create the demo accounts alice and bob (password: demo-password) and a "
        "few topics, if missing. Development settings only (DEBUG on)."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "demo_data creates accounts with a known password: it runs with "
                "DEBUG on only (the development settings), never in production."
            )
        users = {name: self.account(name) for name in ACCOUNTS}
        if Topic.objects.exists():
            self.stdout.write("Topics exist already: none added.")
        else:
            self.topics(users["alice"], users["bob"])
        self.stdout.write(
            self.style.SUCCESS(
                "Demo accounts: alice and bob, password "
                f"{PASSWORD!r}. Log in as each in its own browser window."
            )
        )

    def account(self, username):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_password(PASSWORD)
            user.save()
        else:
            self.stdout.write(f"{username} exists already: password unchanged.")
        return user

    def topics(self, alice, bob):
        welcome = Topic.objects.create(title="Welcome: say hello", owner=alice)
        Comment.objects.create(topic=welcome, author=alice, text="Hi, I'm Alice.")
        Comment.objects.create(topic=welcome, author=bob, text="Hello from Bob!")
        Topic.objects.create(title="Bob's reading list", owner=bob)
        Topic.objects.create(
            title="Alice's private notes", owner=alice, is_private=True
        )
        self.stdout.write("Added 3 topics (one private to alice) and 2 comments.")
