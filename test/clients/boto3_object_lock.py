"""boto3 on a bucket with object lock, run by boto3.test.ts against a node started with --no-mesh: what a
backup tool that keeps immutable copies does (a bucket made with lock, a default retention, a locked upload,
retention and legal hold by version, a delete refused, a bypass, a delete marker over a locked version)."""
import sys
from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access_key, secret_key = sys.argv[1:4]
config = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})  # no retries: the first answer counts
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1", config=config)
bucket = "boto3-locked"


def refused(code, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as err:
        assert err.response["Error"]["Code"] == code, err.response
        return
    raise AssertionError(f"{call.__name__} was not refused with {code}")


s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
refused("InvalidBucketState", s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

# The default retention on a plain upload, a COMPLIANCE one asked for on another.
plain = s3.put_object(Bucket=bucket, Key="backup-1.tar", Body=b"first backup")
head = s3.head_object(Bucket=bucket, Key="backup-1.tar")
assert head["ObjectLockMode"] == "GOVERNANCE", head
until = datetime.now(timezone.utc) + timedelta(days=2)
strict = s3.put_object(Bucket=bucket, Key="backup-2.tar", Body=b"second backup", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
retention = s3.get_object_retention(Bucket=bucket, Key="backup-2.tar", VersionId=strict["VersionId"])["Retention"]
assert retention["Mode"] == "COMPLIANCE" and abs((retention["RetainUntilDate"] - until).total_seconds()) < 1, retention

# Deleting a locked version by id is refused; without an id, a delete marker hides it.
refused("AccessDenied", s3.delete_object, Bucket=bucket, Key="backup-2.tar", VersionId=strict["VersionId"], BypassGovernanceRetention=True)
refused("AccessDenied", s3.delete_object, Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"])
assert s3.delete_object(Bucket=bucket, Key="backup-2.tar")["DeleteMarker"] is True
assert s3.get_object(Bucket=bucket, Key="backup-2.tar", VersionId=strict["VersionId"])["Body"].read() == b"second backup"

# A legal hold outlives a bypass; lifted, the GOVERNANCE retention goes with one.
s3.put_object_legal_hold(Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"], LegalHold={"Status": "ON"})
assert s3.get_object_legal_hold(Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"])["LegalHold"]["Status"] == "ON"
refused("AccessDenied", s3.delete_object, Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"], BypassGovernanceRetention=True)
s3.put_object_legal_hold(Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"], LegalHold={"Status": "OFF"})
s3.delete_object(Bucket=bucket, Key="backup-1.tar", VersionId=plain["VersionId"], BypassGovernanceRetention=True)
versions = s3.list_object_versions(Bucket=bucket)
assert [v["Key"] for v in versions.get("Versions", [])] == ["backup-2.tar"], versions

# A past date and a retention on a bucket without lock are refused as S3 refuses them.
refused("InvalidArgument", s3.put_object_retention, Bucket=bucket, Key="backup-2.tar", VersionId=strict["VersionId"],
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(timezone.utc) - timedelta(days=1)})
s3.create_bucket(Bucket="boto3-unlocked")
s3.put_object(Bucket="boto3-unlocked", Key="k", Body=b"x")
refused("InvalidRequest", s3.put_object_legal_hold, Bucket="boto3-unlocked", Key="k", LegalHold={"Status": "ON"})
refused("ObjectLockConfigurationNotFoundError", s3.get_object_lock_configuration, Bucket="boto3-unlocked")
print("boto3 object lock ok")
