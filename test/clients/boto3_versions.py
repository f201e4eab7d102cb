"""boto3 on a versioned bucket, run by boto3.test.ts against a node started with --no-mesh: what scripts that
keep, restore and empty versioned buckets do (the versions paginator, restore by copy, the resource API's
bucket.object_versions.delete())."""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access_key, secret_key = sys.argv[1:4]
config = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})  # no retries: the first answer counts
args = dict(endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1", config=config)
s3 = boto3.client("s3", **args)
bucket = "boto3-versions"
s3.create_bucket(Bucket=bucket)
assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

ids = [s3.put_object(Bucket=bucket, Key="doc.txt", Body=f"draft {i}\n".encode())["VersionId"] for i in range(3)]
assert len(set(ids)) == 3 and "null" not in ids, ids
for i in range(12):
    s3.put_object(Bucket=bucket, Key=f"many/{i:02}", Body=b"x" * i)
    s3.put_object(Bucket=bucket, Key=f"many/{i:02}", Body=b"y" * i)

# An old version by id, and its HEAD.
old = s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=ids[0])
assert old["Body"].read() == b"draft 0\n" and old["VersionId"] == ids[0], old
assert s3.head_object(Bucket=bucket, Key="doc.txt", VersionId=ids[1])["ContentLength"] == 8

# A delete leaves a marker: the key is gone, its versions are not.
gone = s3.delete_object(Bucket=bucket, Key="doc.txt")
assert gone["DeleteMarker"] is True, gone
try:
    s3.get_object(Bucket=bucket, Key="doc.txt")
    raise AssertionError("a key behind a delete marker was read")
except ClientError as err:
    assert err.response["Error"]["Code"] == "NoSuchKey", err.response
    assert err.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true", err.response

# The versions paginator, a few at a time: every version and the marker, each key's newest first.
pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 5})
versions, markers = [], []
for page in pages:
    versions += page.get("Versions", [])
    markers += page.get("DeleteMarkers", [])
assert len(versions) == 3 + 24, len(versions)
assert [m["Key"] for m in markers] == ["doc.txt"] and markers[0]["IsLatest"] is True and markers[0]["VersionId"] == gone["VersionId"], markers
doc = [v for v in versions if v["Key"] == "doc.txt"]
assert [v["VersionId"] for v in doc] == ids[::-1] and not any(v["IsLatest"] for v in doc), doc
listed = s3.list_object_versions(Bucket=bucket, Delimiter="/")
assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["many/"] and {v["Key"] for v in listed["Versions"]} == {"doc.txt"}, listed

# Restore: delete the marker, then copy the first draft over the key as its new current version.
s3.delete_object(Bucket=bucket, Key="doc.txt", VersionId=gone["VersionId"])
assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"draft 2\n"
restored = s3.copy_object(Bucket=bucket, Key="doc.txt", CopySource={"Bucket": bucket, "Key": "doc.txt", "VersionId": ids[0]})
assert restored["VersionId"] not in ids, restored
assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"draft 0\n"

# Suspended: a write is the null version and replaces it, the others stay.
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
assert s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"null one\n").get("VersionId") in (None, "null")
s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"null two\n")
doc = s3.list_object_versions(Bucket=bucket, Prefix="doc.txt")["Versions"]
assert [v["VersionId"] for v in doc] == ["null", restored["VersionId"], *ids[::-1]], doc

# A versioned bucket is not empty until every version goes; the resource API empties it a page at a time.
try:
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "doc.txt"}] + [{"Key": f"many/{i:02}"} for i in range(12)]})
    s3.delete_bucket(Bucket=bucket)
    raise AssertionError("a bucket with versions left was deleted")
except ClientError as err:
    assert err.response["Error"]["Code"] == "BucketNotEmpty", err.response
boto3.resource("s3", **args).Bucket(bucket).object_versions.delete()
assert "Versions" not in s3.list_object_versions(Bucket=bucket) and "DeleteMarkers" not in s3.list_object_versions(Bucket=bucket)
s3.delete_bucket(Bucket=bucket)
print("boto3 versions ok")
