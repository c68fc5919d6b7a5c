import django_filters
from rest_framework.filters import OrderingFilter

from .models import Comment, Topic


def visible_topics(request):
    """The topics the requesting user may see (the choices of ?topic=)."""
    return Topic.objects.visible_to(getattr(request, "user", None))


class CommentFilter(django_filters.FilterSet):
    """?topic=<id>, accepting only topics the user may see.

    With the default choices (every topic), ?topic=<a private topic> would be
    an empty page but ?topic=<no such topic> a 400: a way to find out which
    private topics exist. Now both are the same 400.
    """

    topic = django_filters.ModelChoiceFilter(queryset=visible_topics)

    class Meta:
        model = Comment
        fields = ["topic"]


class StableOrderingFilter(OrderingFilter):
    """OrderingFilter that breaks ties by primary key.

    Ordering by a column with equal values (two comments created in the same
    microsecond, two topics with the same title) leaves the database free to
    return them in any order, so pages could repeat or skip rows.
    """

    def get_ordering(self, request, queryset, view):
        """The requested (or default) ordering, with "id" appended if missing."""
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        if any(field.lstrip("-") in ("id", "pk") for field in ordering):
            return ordering
        return [*ordering, "id"]
