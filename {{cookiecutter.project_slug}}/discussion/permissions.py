from rest_framework import permissions


class IsOwnerOrReadOnly(permissions.BasePermission):
    """Anyone may read; only the object's owner may change or delete it.

    The owner is the user in the view's `owner_field` attribute of the object
    (default "owner"). Objects a user may not see never get here: the view's
    get_queryset() leaves them out, so they are a 404, not a 403.
    """

    message = "Only the user who created this object may change or delete it."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        owner_field = getattr(view, "owner_field", "owner")
        owner_id = getattr(obj, f"{owner_field}_id")
        return request.user.is_authenticated and owner_id == request.user.pk


class IsTopicOwner(permissions.BasePermission):
    """Only the topic's owner, whatever the method: closing is theirs alone."""

    message = "Only the topic's owner may close it."

    def has_object_permission(self, request, view, obj):
        return request.user.is_authenticated and obj.owner_id == request.user.pk
