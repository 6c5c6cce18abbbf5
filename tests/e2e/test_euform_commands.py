"""The seed's euform-validate-template, run as a console script against a live cloud: the
sample template from a file and from this cloud's S3, and its errors as one stderr line."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import new_bucket, remove_bucket
from tests.e2e.test_cloudformation_api import KEY_NAME_DESCRIPTION, SAMPLE, SAMPLE_YAML
from tests.e2e.test_euca_commands import Euca

pytestmark = pytest.mark.e2e

SAMPLE_LINES = [
    f"DESCRIPTION\t{SAMPLE['Description']}",
    "PARAMETERS\tParameterKey\tKeyName",
    "PARAMETERS\tNoEcho\tfalse",
    f"PARAMETERS\tDescription\t{KEY_NAME_DESCRIPTION}",
]


@pytest.fixture(scope="module")
def euca(cloud: Cloud) -> Euca:
    return Euca(cloud)


def test_validate_the_seeds_template_file(euca: Euca, tmp_path: Path) -> None:
    demo = tmp_path / "cloudformationdemo.template"
    demo.write_text(json.dumps(SAMPLE, indent=2))
    assert euca("euform-validate-template", "--template-file", str(demo)) == SAMPLE_LINES
    demo.write_text(SAMPLE_YAML)
    assert euca("euform-validate-template", "--template-file", str(demo)) == SAMPLE_LINES


def test_validate_a_template_with_defaults_and_capabilities(euca: Euca, tmp_path: Path) -> None:
    template: dict[str, Any] = {
        "Parameters": {"Size": {"Type": "Number", "Default": 2, "NoEcho": "true"}},
        "Resources": {"User": {"Type": "AWS::IAM::User"}},
    }
    path = tmp_path / "iam.template"
    path.write_text(json.dumps(template))
    assert euca("euform-validate-template", "--template-file", str(path)) == [
        "DESCRIPTION\t",
        "PARAMETERS\tParameterKey\tSize",
        "PARAMETERS\tDefaultValue\t2",
        "PARAMETERS\tNoEcho\ttrue",
        "CAPABILITIESREASON\tThe following resource(s) require capabilities: [AWS::IAM::User]",
        "CAPABILITIES\tCAPABILITY_IAM",
    ]


def test_validate_a_template_url(euca: Euca, cloud: Cloud) -> None:
    s3 = cloud.client("s3")
    bucket = new_bucket(s3, "euform")
    try:
        s3.put_object(Bucket=bucket, Key="demo.template", Body=SAMPLE_YAML)
        url = f"{cloud.endpoint}/services/objectstorage/{bucket}/demo.template"
        assert euca("euform-validate-template", "--template-url", url) == SAMPLE_LINES
        done = euca.run(
            "euform-validate-template", "--template-url", f"{cloud.endpoint}/{bucket}/missing"
        )
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "euform-validate-template: error (ValidationError): S3 error: The specified key "
            "does not exist. For more information check "
            "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
        ]
    finally:
        remove_bucket(s3, bucket)


def test_errors(euca: Euca, tmp_path: Path) -> None:
    bad = tmp_path / "bad.template"
    bad.write_text('{"Resources": {"F": {"Type": "AWS::Lambda::Function"}}}')
    done = euca.run("euform-validate-template", "--template-file", str(bad))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "euform-validate-template: error (ValidationError): Template format error: "
        "Unrecognized resource types: [AWS::Lambda::Function]"
    ]
    missing = tmp_path / f"{uuid.uuid4().hex}.template"
    done = euca.run("euform-validate-template", "--template-file", str(missing))
    assert done.returncode != 0 and "cannot read template file" in done.stderr
    # One of the two sources is required, and only one.
    assert euca.run("euform-validate-template").returncode != 0
    both = euca.run(
        "euform-validate-template", "--template-file", str(bad), "--template-url", "http://x/y/z"
    )
    assert both.returncode != 0 and "not allowed with argument" in both.stderr
