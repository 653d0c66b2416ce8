"""The local S3 server of scripts/s3-local (s3proxy, filesystem backend), checked with an
independent client (boto3/botocore) before anything relies on it: the Delta commit protocol on
object storage needs PUT with If-None-Match: * to be atomic, so 16 racing conditional PUTs of one
key must give exactly one winner. Also: the bucket exists after start, wrong keys are refused,
path-style and virtual-hosted addressing both reach the bucket."""
from __future__ import annotations

import http.client
import threading
import uuid
from urllib.parse import urlparse

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from conftest import s3_local_cmd  # noqa: E402

RACERS = 16


def client(s3, key_id=None, secret=None):
    return boto3.client("s3", endpoint_url=s3.endpoint, region_name=s3.env["AWS_REGION"],
                        aws_access_key_id=key_id or s3.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or s3.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def status_of(call) -> int:
    try:
        return call()["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def race(s3, key: str) -> tuple[list[int], list[bytes]]:
    """RACERS clients PUT different bodies to one key with If-None-Match: *, released together."""
    clients = [client(s3) for _ in range(RACERS)]  # creating clients is not thread-safe; using them is
    bodies = [f"writer {i} {uuid.uuid4()}".encode() for i in range(RACERS)]
    codes = [0] * RACERS
    gate = threading.Barrier(RACERS)

    def put(i):
        gate.wait()
        codes[i] = status_of(lambda: clients[i].put_object(
            Bucket=s3.bucket, Key=key, Body=bodies[i], IfNoneMatch="*", ContentType="application/octet-stream"))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return codes, bodies


def test_env_points_at_the_server(s3_local):
    env = s3_local.env
    assert set(env) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"}
    assert env["AWS_ENDPOINT_URL"].startswith("http://localhost:")
    assert s3_local_cmd("status").returncode == 0
    again = s3_local_cmd("start")
    assert "already running" in again.stdout
    names = [b["Name"] for b in client(s3_local).list_buckets()["Buckets"]]
    assert s3_local.bucket in names


def test_sixteen_racing_conditional_puts_one_winner(s3_local):
    c = client(s3_local)
    for round_ in range(4):
        key = f"race/{uuid.uuid4()}/00000000000000000000.json"
        codes, bodies = race(s3_local, key)
        assert sorted(codes) == [200] + [412] * (RACERS - 1), f"round {round_}: {codes}"
        winner = bodies[codes.index(200)]
        assert c.get_object(Bucket=s3_local.bucket, Key=key)["Body"].read() == winner
        # the key exists now: one more conditional PUT loses, and the winner's bytes stay
        assert status_of(lambda: c.put_object(Bucket=s3_local.bucket, Key=key, Body=b"late", IfNoneMatch="*",
                                              ContentType="application/octet-stream")) == 412
        assert c.get_object(Bucket=s3_local.bucket, Key=key)["Body"].read() == winner


def test_unconditional_put_overwrites(s3_local):
    """The control for the race: without If-None-Match every PUT succeeds and the last one stays,
    so the single winner above comes from the condition."""
    c = client(s3_local)
    key = f"plain/{uuid.uuid4()}"
    for body in (b"one", b"two"):
        assert status_of(lambda: c.put_object(Bucket=s3_local.bucket, Key=key, Body=body,
                                              ContentType="application/octet-stream")) == 200
    assert c.get_object(Bucket=s3_local.bucket, Key=key)["Body"].read() == b"two"


def test_wrong_secret_is_refused(s3_local):
    bad = client(s3_local, secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=s3_local.bucket, Key="nope", Body=b"x", ContentType="application/octet-stream")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_virtual_hosted_and_path_style_reach_the_same_object(s3_local):
    """Virtual-hosted style puts the bucket in the Host header (smarttech.localhost). This resolver
    may not know *.localhost (curl resolves it itself), so the request is signed for that host and
    sent to the loopback address the endpoint names."""
    c = client(s3_local)
    key = f"addressing/{uuid.uuid4()}"
    c.put_object(Bucket=s3_local.bucket, Key=key, Body=b"path style", ContentType="application/octet-stream")
    port = urlparse(s3_local.endpoint).port
    url = f"http://{s3_local.bucket}.localhost:{port}/{key}"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    creds = Credentials(s3_local.env["AWS_ACCESS_KEY_ID"], s3_local.env["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "s3", s3_local.env["AWS_REGION"]).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/{key}", headers={**dict(req.headers.items()), "Host": urlparse(url).netloc})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, body[:500]
    assert body == b"path style"


def test_listing_returns_the_keys(s3_local):
    """ListObjectsV2 sees what was put (with a relative basedir, s3proxy's filesystem backend
    listed nothing at all: scripts/s3-local hands it an absolute one)."""
    c = client(s3_local)
    base = f"list/{uuid.uuid4()}"
    keys = [f"{base}/a", f"{base}/b/c", f"{base}/v10", f"{base}/v2"]
    for k in keys:
        c.put_object(Bucket=s3_local.bucket, Key=k, Body=b"x", ContentType="application/octet-stream")
    got = c.list_objects_v2(Bucket=s3_local.bucket, Prefix=base + "/")
    assert [o["Key"] for o in got.get("Contents", [])] == sorted(keys)
    folders = c.list_objects_v2(Bucket=s3_local.bucket, Prefix=base + "/", Delimiter="/")
    assert [p["Prefix"] for p in folders.get("CommonPrefixes", [])] == [f"{base}/b/"]
