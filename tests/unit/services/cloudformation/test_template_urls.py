"""Which TemplateURLs name an object of this cloud's S3, and which object."""

from __future__ import annotations

import pytest

from mallee.config import Settings
from mallee.services.cloudformation.template_urls import Endpoint, ObjectLocation, locate

pytestmark = pytest.mark.nodb

CLOUD = Endpoint(host="10.0.0.5", domain="cloud.example.com")
ANY_ADDRESS = Endpoint(host="0.0.0.0", domain="cloud.example.com")


@pytest.mark.parametrize(
    ("url", "bucket", "key"),
    [
        # Path-style on the api endpoint, with and without Eucalyptus' service path.
        ("http://10.0.0.5:8773/templates/t.json", "templates", "t.json"),
        ("https://10.0.0.5/templates/dir/t.yaml", "templates", "dir/t.yaml"),
        ("http://10.0.0.5:8773/services/objectstorage/templates/t.json", "templates", "t.json"),
        ("http://10.0.0.5:8773/services/Walrus/templates/a/b", "templates", "a/b"),
        ("http://10.0.0.5:8773/services/ObjectStorage/b/k", "b", "k"),
        # Hosts under the cloud's domain.
        ("http://cloud.example.com:8773/b/k", "b", "k"),
        ("http://s3.cloud.example.com/b/k", "b", "k"),
        ("https://S3.Eucalyptus.cloud.example.com/b/k", "b", "k"),
        ("http://my-bucket.s3.cloud.example.com:8773/dir/t.json", "my-bucket", "dir/t.json"),
        ("http://dotted.bucket.s3.cloud.example.com/k", "dotted.bucket", "k"),
        # AWS's URLs name the same bucket and key here.
        ("https://s3.amazonaws.com/b/k.json", "b", "k.json"),
        ("https://s3-us-west-2.amazonaws.com/b/k", "b", "k"),
        ("https://s3.eu-west-1.amazonaws.com/b/dir/k", "b", "dir/k"),
        ("https://s3.dualstack.us-east-1.amazonaws.com/b/k", "b", "k"),
        ("https://b.s3.amazonaws.com/k", "b", "k"),
        ("https://my.b.s3.us-east-2.amazonaws.com/dir/k", "my.b", "dir/k"),
        ("https://b.s3-eu-west-1.amazonaws.com/k", "b", "k"),
        # Keys are URL-decoded.
        ("http://10.0.0.5/b/my%20template.json", "b", "my template.json"),
        ("http://10.0.0.5/b/a%2Fb", "b", "a/b"),
    ],
)
def test_urls_of_this_clouds_s3(url: str, bucket: str, key: str) -> None:
    assert locate(url, CLOUD) == ObjectLocation(bucket, key)


def test_a_version_id_names_the_version() -> None:
    found = locate("https://s3.amazonaws.com/b/k?versionId=abc123", CLOUD)
    assert found == ObjectLocation("b", "k", "abc123")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://10.0.0.5/b/k",
        "s3://b/k",
        "file:///etc/passwd",
        "http:///b/k",
        "http://evil.example.org/b/k",
        "http://10.0.0.6/b/k",
        "http://cloud.example.com.evil.org/b/k",
        "http://ec2.cloud.example.com/b/k",
        "https://example.com/s3.amazonaws.com/b/k",
        "https://s3.amazonaws.com.evil.org/b/k",
        # A bucket alone, or nothing at all, names no object.
        "http://10.0.0.5/",
        "http://10.0.0.5/b",
        "http://10.0.0.5/b/",
        "http://10.0.0.5/services/objectstorage/",
        "http://10.0.0.5/services/objectstorage/b/",
        "https://s3.amazonaws.com/b",
        "https://b.s3.amazonaws.com/",
        "http://b.s3.cloud.example.com/",
        "http://.s3.cloud.example.com/k",
        "http://[::1/b/k",
    ],
)
def test_urls_that_name_no_object_here(url: str) -> None:
    assert locate(url, CLOUD) is None


def test_a_server_on_every_address_is_reached_by_any_address() -> None:
    assert locate("http://192.0.2.7:8773/b/k", ANY_ADDRESS) == ObjectLocation("b", "k")
    assert locate("http://[2001:db8::1]:8773/b/k", ANY_ADDRESS) == ObjectLocation("b", "k")
    assert locate("http://192.0.2.7:8773/b/k", CLOUD) is None
    assert locate("http://somehost/b/k", ANY_ADDRESS) is None


def test_the_endpoint_comes_from_the_settings() -> None:
    endpoint = Endpoint.of(Settings(host="127.0.0.1", domain="Cloud.Example.COM"))
    assert endpoint == Endpoint("127.0.0.1", "cloud.example.com")
    assert locate("http://localhost.cloud.example.com/b/k", endpoint) is None
    assert locate("http://127.0.0.1:8773/b/k", endpoint) == ObjectLocation("b", "k")
