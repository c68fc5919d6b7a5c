from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class DiscussionPagination(PageNumberPagination):
    """20 items a page; clients may ask for up to 100 with ?page_size=."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """A ?page_size= that is not a whole number from 1 is refused (400),
        as the schema says (DRF would silently use the default); one above
        max_page_size still gives max_page_size."""
        value = request.query_params.get(self.page_size_query_param)
        if value is not None and not (
            value.isascii() and value.isdigit() and int(value) >= 1
        ):
            raise ValidationError(
                {self.page_size_query_param: ["A whole number from 1."]}
            )
        return super().get_page_size(request)
