"""The sample's pagination answers its edge cases as the OpenAPI schema says
(tests/test_openapi_contract.py runs schemathesis over the whole API)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "status"),
    [("page=0", 404), ("page=abc", 404), ("page_size=0", 400), ("page_size=x", 400)],
)
def test_paging_out_of_range_is_refused_as_documented(client, query, status):
    """?page=0 is "Invalid page." (404); a page_size that is not a whole
    number from 1 is a 400, not a silent default."""
    response = client.get(f"/api/topics/?{query}")
    assert response.status_code == status
    assert set(response.json()) == ({"detail"} if status == 404 else {"page_size"})
