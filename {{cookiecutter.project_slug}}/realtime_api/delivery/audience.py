"""An audience: the sockets of one stream that see the same objects the same way.

Sockets share an audience when their endpoint gives them the same visibility
key (by default: the same user). The audience holds one endpoint initialized
for a GET of the stream as that user, and answers, once per change for all
its sockets, the one question the protocol asks: may this user `retrieve`
the object now, and what would `retrieve` show them?

Everything here runs in the database thread. The audience of a user follows
the user as stored now: when identity.py's sweep reads a change of that
user (privileges, groups), the endpoint is built again for the fresh user
before its next use.
"""

from dataclasses import dataclass, field

from rest_framework import exceptions

from realtime_api.auth import identity
from realtime_api.delivery.changes import pk_value


@dataclass(slots=True)
class Verdict:
    """What one audience may see of one change."""

    visible: bool = False
    data_json: str | None = None  # The object as `retrieve` renders it.
    hidden: frozenset = frozenset()  # recheck: the pks it no longer sees
    visible_pks: frozenset = frozenset()  # recheck: the pks it sees
    frames: dict = field(default_factory=dict)  # Frames built once, by kind.


class Audience:
    """One visibility key of one stream, in this process."""

    def __init__(self, adapter, key, scope):
        self.adapter = adapter
        self.stream = adapter.stream
        self.key = key
        self.scope = scope
        user = scope.get("user")
        self.user_pk = user.pk if user is not None and user.is_authenticated else None
        self.version = self.version_of(user)
        self._endpoint = self.build_endpoint(scope)
        self.users = 0  # Subscribers and live queries that use it.

    def build_endpoint(self, scope):
        endpoint = self.adapter.endpoint_class(self.adapter, scope)
        # A GET of the detail route, as `retrieve` runs it; without the checks
        # (throttles), which belong to requests, not to deliveries.
        endpoint.initial(route="detail", check=False)
        return endpoint

    def version_of(self, user):
        """The sweep's version of `user`, if it is the object last read (else None)."""
        current = identity.current_user(self.user_pk) if self.user_pk else None
        return current[0] if current is not None and current[1] is user else None

    @property
    def endpoint(self):
        """The endpoint for the user as last read (rebuilt when they changed)."""
        current = identity.current_user(self.user_pk) if self.user_pk else None
        if current is not None and current[0] != self.version:
            self._endpoint = self.build_endpoint({**self.scope, "user": current[1]})
            self.version = current[0]
        return self._endpoint

    def evaluate(self, changes):
        """Return this audience's Verdict on each of `changes` (a batch).

        The objects of every create and update are read in one query, as the
        audience may see them now (a later change of the batch included).
        """
        pks = {c.pk for c in changes if c.action in ("create", "update")}
        rendered = self.render_many(pks) if pks else {}
        verdicts = {}
        for change in changes:
            if change.action == "recheck":
                verdicts[change] = self.recheck(change.filter)
            elif change.pk in rendered:
                verdicts[change] = Verdict(visible=True, data_json=rendered[change.pk])
            else:
                verdicts[change] = Verdict()
        return verdicts

    def permits(self, obj):
        """Tell whether the view's object permissions let a GET see `obj`."""
        view = self.endpoint.view_instance
        try:
            view.check_object_permissions(self.endpoint.request, obj)
        except (exceptions.PermissionDenied, exceptions.NotAuthenticated):
            return False
        return True

    def recheck(self, lookups):
        """The pks matching `lookups` this audience sees now, and those it does not."""
        model = self.adapter.model
        every = model._default_manager.filter(**lookups).values_list("pk", flat=True)
        every = {pk_value(pk) for pk in every}
        objects = self.endpoint.get_queryset().filter(**lookups)
        visible = {pk_value(obj.pk) for obj in objects if self.permits(obj)}
        return Verdict(
            hidden=frozenset(every - visible), visible_pks=frozenset(visible)
        )

    def visible_object(self, pk):
        """Return the object if this audience may `retrieve` it now, else None."""
        return self.visible_objects([pk]).get(pk_value(pk))

    def visible_objects(self, pks):
        """Return {pk: object} for the objects of `pks` this audience may see."""
        # No ordering: the view's would only cost the database a sort.
        objects = self.endpoint.get_queryset().filter(pk__in=pks).order_by()
        return {pk_value(obj.pk): obj for obj in objects if self.permits(obj)}

    def render_many(self, pks):
        """Return {pk: data JSON} for the objects of `pks` this audience sees."""
        objects = self.visible_objects(pks)
        return {pk: self.endpoint.render(obj) for pk, obj in objects.items()}

    def groups_of(self, obj):
        return set(self.endpoint.get_group_names(obj))

    def in_groups(self, pks, groups):
        """Return those of `pks` whose objects are in one of `groups` now."""
        objects = self.adapter.model._default_manager.filter(pk__in=pks)
        return {
            pk_value(obj.pk)
            for obj in objects
            if not groups.isdisjoint(self.groups_of(obj))
        }
