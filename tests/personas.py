"""The callers the tests and benchmarks share: Alice (an IAM user), Bob, the app's role, and S3 for the app.

One definition, so a CloudTrail record, an audit query and an alert all describe the same people.
"""

from __future__ import annotations

from kmslab.kms.seams import Caller

ACCOUNT = "111122223333"
REGION = "us-east-1"

#: an IAM user with console and CLI access: the key administrator of the scenarios.
ALICE = Caller(
    arn=f"arn:aws:iam::{ACCOUNT}:user/Alice",
    account=ACCOUNT,
    identity_type="IAMUser",
    principal_id="AIDAEXAMPLEALICE",
    access_key_id="AKIAEXAMPLEALICE",
    source_ip="192.0.2.10",
    user_agent="aws-cli/2.17.0",
    secure_transport=True,
)
#: another IAM user, from an address nobody else uses: the one who is refused.
BOB = Caller(
    arn=f"arn:aws:iam::{ACCOUNT}:user/Bob",
    account=ACCOUNT,
    identity_type="IAMUser",
    principal_id="AIDAEXAMPLEBOB",
    access_key_id="AKIAEXAMPLEBOB",
    source_ip="203.0.113.66",
    user_agent="Boto3/1.44.5",
)
#: the application's role session, calling KMS directly.
APP_ROLE = Caller(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/AppRole/app-session",
    account=ACCOUNT,
    identity_type="AssumedRole",
    principal_id="AROAEXAMPLEAPP:app-session",
    access_key_id="ASIAEXAMPLEAPP",
    source_ip="198.51.100.7",
    user_agent="Boto3/1.44.5",
)
#: S3 calling KMS for the application's role (SSE-KMS): ``kms:ViaService`` and ``invokedBy`` are S3.
S3_FOR_APP = Caller(
    arn=APP_ROLE.arn,
    account=ACCOUNT,
    identity_type="AssumedRole",
    principal_id=APP_ROLE.principal_id,
    access_key_id="ASIAEXAMPLEAPP",
    source_ip="198.51.100.7",
    invoked_by="s3.amazonaws.com",
)
