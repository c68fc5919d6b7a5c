"""DRF's SearchFilter with a bound on the number of search terms.

Each term is one more condition on every search field; SQLite refuses a
query deeper than 1,000 expressions ("Expression tree is too large"), so a
3,000-word `?search=` answered 500 with the whole payload logged at ERROR,
and PostgreSQL spends its time on it. Past `max_terms` the request is a
400 naming the limit, over HTTP and over the socket alike.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.request import Request


class BoundedSearchFilter(SearchFilter):
    """SearchFilter answering 400 past `max_terms` terms (override per view)."""

    max_terms = 20

    def get_search_terms(self, request: Request) -> list[str]:
        terms = super().get_search_terms(request)
        if len(terms) > self.max_terms:
            raise ValidationError(
                {self.search_param: [f"Use at most {self.max_terms} search terms."]}
            )
        return terms
