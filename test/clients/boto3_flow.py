"""The boto3 client flow, run by boto3.test.ts with Debian's python3 and python3-boto3."""
import base64
import hashlib
import os
import sys
import urllib.request

import boto3
from botocore.config import Config

endpoint, access_key, secret_key, big_path = sys.argv[1:5]
s3 = boto3.client(
    "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
    region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),  # no retries: the first answer counts
)
bucket = "cli-boto3"
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="docs/small.txt", Body=b"hello from boto3\n", Metadata={"who": "boto3"})
s3.upload_file(big_path, bucket, "big/fifty.bin")  # multipart above 8 MiB
head = s3.head_object(Bucket=bucket, Key="big/fifty.bin")
assert head["ContentLength"] == os.path.getsize(big_path), head
assert head["ETag"].endswith('-7"'), head["ETag"]  # 50 MiB in boto3's 8 MiB parts

listed = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["big/", "docs/"], listed
listed = s3.list_objects(Bucket=bucket, Prefix="docs/", Delimiter="/")
assert [c["Key"] for c in listed["Contents"]] == ["docs/small.txt"], listed

got = s3.get_object(Bucket=bucket, Key="docs/small.txt")
assert got["Body"].read() == b"hello from boto3\n"
assert got["Metadata"] == {"who": "boto3"}, got["Metadata"]
ranged = s3.get_object(Bucket=bucket, Key="docs/small.txt", Range="bytes=6-9")
assert ranged["Body"].read() == b"from"

# Checksums: sent, kept, returned when asked, and checked by botocore on the way back.
s3.put_object(Bucket=bucket, Key="docs/summed.txt", Body=b"checked\n", ChecksumAlgorithm="SHA256")
summed = s3.get_object(Bucket=bucket, Key="docs/summed.txt", ChecksumMode="ENABLED")
assert summed["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"checked\n").digest()).decode(), summed
assert summed["Body"].read() == b"checked\n"
s3.upload_file(big_path, bucket, "big/summed.bin", ExtraArgs={"ChecksumAlgorithm": "CRC32"})  # each part's CRC32, the object's made of them
head = s3.head_object(Bucket=bucket, Key="big/summed.bin", ChecksumMode="ENABLED")
assert head["ChecksumCRC32"].endswith("-7"), head
# One part as it was uploaded (boto3's 8 MiB parts).
part = s3.get_object(Bucket=bucket, Key="big/summed.bin", PartNumber=2)
assert part["PartsCount"] == 7 and part["ContentLength"] == 8 * 1024 * 1024, part
with open(big_path, "rb") as f:
    f.seek(8 * 1024 * 1024)
    assert part["Body"].read() == f.read(8 * 1024 * 1024)

# A lifecycle rule: kept as given, and an object it applies to says when it expires.
rule = {"ID": "docs-30", "Filter": {"Prefix": "docs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [rule]
assert 'rule-id="docs-30"' in s3.head_object(Bucket=bucket, Key="docs/small.txt")["Expiration"]
s3.delete_bucket_lifecycle(Bucket=bucket)

target = big_path + ".back"
s3.download_file(bucket, "big/fifty.bin", target)
with open(big_path, "rb") as a, open(target, "rb") as b:
    assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/small.txt"}, ExpiresIn=600)
with urllib.request.urlopen(url) as res:
    assert res.status == 200 and res.read() == b"hello from boto3\n"

s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ["docs/small.txt", "docs/summed.txt", "big/fifty.bin", "big/summed.bin"]]})
s3.delete_bucket(Bucket=bucket)
assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
print("boto3 flow ok")
