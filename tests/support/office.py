"""Signing in to the office dashboard in tests: the shared password, a page's CSRF token, a signed-in client."""

from __future__ import annotations

import re

PASSWORD = "correct-horse-1"


def csrf(client, path: str) -> str:
    """The CSRF token a page's form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def signed_in(app, staff_no: str, password: str = PASSWORD):
    """A new client of `app`, signed in as `staff_no`."""
    client = app.test_client()
    answer = client.post("/office/login", data={"staff_no": staff_no, "password": password,
                                                "csrf_token": csrf(client, "/office/login")})
    assert answer.status_code == 302
    return client
