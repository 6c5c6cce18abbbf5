"""IAM's own name checks (behind the model's patterns): ASCII only, whole value, as AWS's."""

from __future__ import annotations

import pytest

from mallee.api.errors import ServiceError
from mallee.services.iam.common import check_account_name, check_name, check_path

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize("name", ["jösé", "bob٣", "Ωmega", "bob\n", "a b", "x/y"])
def test_names_outside_ascii_word_characters_are_refused(name: str) -> None:
    with pytest.raises(ServiceError) as caught:
        check_name(name, "userName")
    assert (caught.value.code, caught.value.status) == ("ValidationError", 400)


def test_ascii_names_pass() -> None:
    assert check_name("Bob_1+=,.@-", "userName") == "Bob_1+=,.@-"


@pytest.mark.parametrize("path", ["/é/", "/a/\n", "a/", "/a"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(ServiceError):
        check_path(path)
    assert check_path("/a/b/") == "/a/b/"


def test_account_names_are_whole_values() -> None:
    with pytest.raises(ServiceError):
        check_account_name("acme\n")
    assert check_account_name("acme") == "acme"
