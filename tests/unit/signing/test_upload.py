"""Object stores: S3 against moto's server (real HTTP), failure paths with botocore's Stubber."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.stub import ANY, Stubber

from scanner.errors import UsageError
from signing.store import (
    ChecksumError,
    FileDigests,
    FileStore,
    RetryPolicy,
    S3Store,
    StorageError,
    check_endpoint,
    digest_file,
    open_store,
    split_url,
)
from tests.helpers.moto_server import MotoServer, start_moto

MiB = 1024 * 1024
NO_WAIT = RetryPolicy(attempts=3, sleep=lambda s: None)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from start_moto()


@pytest.fixture
def bucket(moto: MotoServer, request: pytest.FixtureRequest) -> str:
    name = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    moto.client("s3").create_bucket(Bucket=name)
    return name


def _file(tmp_path: Path, size: int) -> tuple[Path, str]:
    p = tmp_path / f"f{size}.bin"
    p.write_bytes(os.urandom(size))
    return p, hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (None, True),
        ("https://s3.example.com", True),
        ("http://127.0.0.1:9000", True),
        ("http://localhost:9000", True),
        ("http://[::1]:9000", True),
        ("http://s3.example.com", False),
        ("http://10.0.0.5:9000", False),
        ("ftp://127.0.0.1", False),
        ("s3.example.com", False),
    ],
)
def test_endpoints_must_be_https_except_loopback(url: str | None, ok: bool) -> None:
    if ok:
        check_endpoint(url)
    else:
        with pytest.raises(UsageError, match="only https://"):
            check_endpoint(url)


def test_split_url() -> None:
    assert split_url("s3://b/p/q/") == ("s3", "b", "p/q")
    assert split_url("s3://b") == ("s3", "b", "")
    assert split_url("file:///tmp/x") == ("file", "/tmp/x", "")
    for bad in ("s3://", "http://x/y", "file://"):
        with pytest.raises(UsageError):
            split_url(bad)


def test_small_put_with_metadata_tags_and_sse_kms(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    kms_arn = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
    store = S3Store(bucket, "rel/app", endpoint_url=moto.url, sse_kms_key_id=kms_arn, retry=NO_WAIT)
    path, sha = _file(tmp_path, 1000)
    res = store.put_file(
        "x/a.enc",
        path,
        digests=store.digest_file(path),
        metadata={"pg-sha256": "ab"},
        tags={"panorama-gate:verdict": "approved"},
    )
    assert res.parts_sent == 1
    s3 = moto.client("s3")
    head = s3.head_object(Bucket=bucket, Key="rel/app/x/a.enc")
    assert head["Metadata"] == {"pg-sha256": "ab"}
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_arn
    assert head["BucketKeyEnabled"] is True
    tags = s3.get_object_tagging(Bucket=bucket, Key="rel/app/x/a.enc")["TagSet"]
    assert tags == [{"Key": "panorama-gate:verdict", "Value": "approved"}]
    info = store.head("x/a.enc")
    assert info is not None
    assert info.size == 1000
    assert info.sse == "aws:kms"
    assert store.head("x/missing") is None
    out = tmp_path / "dl"
    store.download("x/a.enc", out, max_size=1000)
    assert out.read_bytes() == path.read_bytes()
    with pytest.raises(StorageError, match="more than the 10 expected"):
        store.download("x/a.enc", out, max_size=10)


def test_multipart_with_sha256_checksums(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    store = S3Store(bucket, endpoint_url=moto.url, part_size=5 * MiB, retry=NO_WAIT)
    path, sha = _file(tmp_path, 11 * MiB + 3)
    res = store.put_file(
        "big.enc", path, digests=store.digest_file(path), metadata={"pg-sha256": sha}
    )
    assert (res.parts_sent, res.parts_reused) == (3, 0)
    blocks = [path.read_bytes()[i : i + 5 * MiB] for i in range(0, 11 * MiB + 3, 5 * MiB)]
    composite = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blocks)).digest()
    ).decode()
    assert res.checksum_sha256 == composite
    head = moto.client("s3").head_object(Bucket=bucket, Key="big.enc", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == composite
    assert head["ContentLength"] == 11 * MiB + 3


class _FailingParts:
    """A client proxy whose upload_part fails for chosen part numbers (a dropped connection)."""

    def __init__(self, client: Any, fail: set[int]) -> None:
        self._client = client
        self.fail = fail
        self.sent: list[int] = []

    def upload_part(self, **kw: Any) -> Any:
        if kw["PartNumber"] in self.fail:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1/")
        self.sent.append(kw["PartNumber"])
        return self._client.upload_part(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_interrupted_multipart_resumes_without_resending_parts(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, 11 * MiB)
    state = tmp_path / "state" / "upload.json"
    base = moto.client("s3")
    flaky = _FailingParts(base, fail={3})
    store = S3Store(bucket, client=flaky, part_size=5 * MiB, retry=NO_WAIT, workers=1)
    with pytest.raises(StorageError, match=r"upload part 3/3 .* after 3 attempts"):
        store.put_file(
            "r.enc", path, digests=store.digest_file(path), metadata={}, resume_state=state
        )
    assert state.is_file()
    assert "r.enc" not in [
        o["Key"] for o in base.list_objects_v2(Bucket=bucket).get("Contents", [])
    ]
    flaky.fail.clear()
    flaky.sent.clear()
    res = store.put_file(
        "r.enc", path, digests=store.digest_file(path), metadata={}, resume_state=state
    )
    assert (res.parts_sent, res.parts_reused) == (1, 2)
    assert flaky.sent == [3]
    assert not state.exists()
    body = base.get_object(Bucket=bucket, Key="r.enc")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha


def test_resume_state_for_other_bytes_is_ignored(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, 11 * MiB)
    state = tmp_path / "upload.json"
    flaky = _FailingParts(moto.client("s3"), fail={2})
    store = S3Store(bucket, client=flaky, part_size=5 * MiB, retry=NO_WAIT, workers=1)
    with pytest.raises(StorageError):
        store.put_file(
            "o.enc", path, digests=store.digest_file(path), metadata={}, resume_state=state
        )
    path.write_bytes(os.urandom(11 * MiB))
    flaky.fail.clear()
    res = store.put_file(
        "o.enc", path, digests=store.digest_file(path), metadata={}, resume_state=state
    )
    assert (res.parts_sent, res.parts_reused) == (3, 0)


def _stubbed() -> tuple[S3Store, Stubber, list[float]]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    slept: list[float] = []
    store = S3Store("bkt", client=client, retry=RetryPolicy(attempts=3, sleep=slept.append))
    return store, Stubber(client), slept


def test_checksum_rejected_by_s3_is_retried_then_reported() -> None:
    store, stub, slept = _stubbed()
    for _ in range(3):
        stub.add_client_error(
            "put_object",
            service_error_code="BadDigest",
            service_message="The SHA256 you specified did not match",
            http_status_code=400,
        )
    with stub, pytest.raises(ChecksumError, match=r"checksum mismatch \(BadDigest\) after 3"):
        store.put_bytes("k", b"data", metadata={})
    assert len(slept) == 2
    stub.assert_no_pending_responses()


def test_throttling_is_retried_with_backoff_and_recovers() -> None:
    store, stub, slept = _stubbed()
    stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_response(
        "put_object",
        {"ETag": '"x"'},
        {
            "Bucket": "bkt",
            "Key": "k",
            "Body": ANY,
            "ChecksumSHA256": ANY,
            "Metadata": {},
            "ContentType": ANY,
        },
    )
    with stub:
        res = store.put_bytes("k", b"data", metadata={})
    assert res.parts_sent == 1
    assert len(slept) == 1
    assert 0 < slept[0] <= 0.5


def test_access_denied_is_not_retried() -> None:
    store, stub, slept = _stubbed()
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with stub, pytest.raises(StorageError, match="AccessDenied") as err:
        store.put_bytes("k", b"data", metadata={})
    assert slept == []
    assert "credentials" in err.value.diagnostics()


def test_wrong_checksum_echoed_by_s3_is_caught() -> None:
    store, stub, _ = _stubbed()
    stub.add_response("put_object", {"ChecksumSHA256": base64.b64encode(b"\0" * 32).decode()})
    with stub, pytest.raises(ChecksumError, match="S3 reports checksum"):
        store.put_bytes("k", b"data", metadata={})


def test_wrong_composite_checksum_after_multipart_is_caught(tmp_path: Path) -> None:
    store, stub, _ = _stubbed()
    store.part_size = 8 * MiB
    path, sha = _file(tmp_path, 9 * MiB)
    stub.add_response("create_multipart_upload", {"UploadId": "u1"})
    stub.add_response("upload_part", {"ETag": '"1"'})
    stub.add_response("upload_part", {"ETag": '"2"'})
    stub.add_response(
        "complete_multipart_upload",
        {"ChecksumSHA256": base64.b64encode(b"\1" * 32).decode() + "-2"},
    )
    store.workers = 1
    with stub, pytest.raises(ChecksumError, match="composite checksum"):
        store.put_file("k", path, digests=store.digest_file(path), metadata={})


def test_file_changed_before_upload_is_refused(
    tmp_path: Path, moto: MotoServer, bucket: str
) -> None:
    store = S3Store(bucket, endpoint_url=moto.url, retry=NO_WAIT)
    path, _ = _file(tmp_path, 100)
    with pytest.raises(ChecksumError, match="changed"):
        store.put_file("k", path, digests=FileDigests("0" * 64, path.stat().st_size), metadata={})


@pytest.mark.parametrize("size", [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 11 * MiB + 3])
def test_digest_file_whole_and_parts_from_one_read(tmp_path: Path, size: int) -> None:
    path, sha = _file(tmp_path, size)
    data = path.read_bytes()
    d = digest_file(path, 5 * MiB)
    assert (d.sha256_hex, d.size, d.part_size) == (sha, size, 5 * MiB)
    assert d.parts == tuple(
        hashlib.sha256(data[i : i + 5 * MiB]).digest() for i in range(0, size, 5 * MiB)
    )
    whole_only = digest_file(path)
    assert (whole_only.sha256_hex, whole_only.size, whole_only.parts) == (sha, size, ())


def test_digest_file_unreadable_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read"):
        digest_file(tmp_path / "missing.bin")


def test_file_changed_after_hashing_is_refused_before_any_part_lands(
    tmp_path: Path, moto: MotoServer, bucket: str
) -> None:
    store = S3Store(bucket, endpoint_url=moto.url, part_size=5 * MiB, retry=NO_WAIT, workers=1)
    path, _ = _file(tmp_path, 11 * MiB)
    digests = store.digest_file(path)
    with open(path, "r+b") as fp:  # same size, one byte of the second part differs
        fp.seek(5 * MiB + 7)
        fp.write(b"\0" if fp.read(1) != b"\0" else b"\1")
    with pytest.raises(ChecksumError, match=r"changed while uploading \(part 2\)"):
        store.put_file("c.enc", path, digests=digests, metadata={})
    with open(path, "ab") as fp:
        fp.write(b"x")
    with pytest.raises(ChecksumError, match="size differs"):
        store.put_file("c.enc", path, digests=digests, metadata={})
    assert store.head("c.enc") is None


def test_digests_for_another_part_size_are_recomputed(
    tmp_path: Path, moto: MotoServer, bucket: str
) -> None:
    store = S3Store(bucket, endpoint_url=moto.url, part_size=5 * MiB, retry=NO_WAIT)
    path, sha = _file(tmp_path, 11 * MiB)
    res = store.put_file("w.enc", path, digests=digest_file(path), metadata={})
    assert res.parts_sent == 3
    body = moto.client("s3").get_object(Bucket=bucket, Key="w.enc")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    with pytest.raises(ChecksumError, match="sha256 differs"):
        store.put_file("w2.enc", path, digests=FileDigests("0" * 64, 11 * MiB), metadata={})


def test_file_store_same_layout_and_metadata(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path / 'rel'}")
    assert isinstance(store, FileStore)
    path, sha = _file(tmp_path, 3 * MiB + 1)
    store.put_file(
        "objects/a.enc",
        path,
        digests=store.digest_file(path),
        metadata={"pg-sha256": "s"},
        tags={"t": "v"},
    )
    store.put_bytes("index.json", b"{}", metadata={})
    assert (tmp_path / "rel" / "objects" / "a.enc").read_bytes() == path.read_bytes()
    info = store.head("objects/a.enc")
    assert info is not None
    assert info.metadata == {"pg-sha256": "s"}
    assert (
        info.checksum_sha256
        == base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    )
    assert store.get_bytes("index.json", max_size=10) == b"{}"
    assert store.get_bytes("nope.json", max_size=10) is None
    for bad in ("../x", "a/../../x", ".meta/x", ""):
        with pytest.raises(StorageError, match="not a valid object key"):
            store.put_bytes(bad, b"", metadata={})
    with pytest.raises(ChecksumError):
        store.put_file(
            "objects/b.enc", path, digests=FileDigests("0" * 64, path.stat().st_size), metadata={}
        )
    assert not (tmp_path / "rel" / "objects" / "b.enc").exists()
    assert [p.name for p in (tmp_path / "rel" / "objects").iterdir()] == ["a.enc"]


def test_progress_reports_every_byte(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    class Counter:
        label = ""

        def begin(self, label: str, total: int) -> None:
            self.label = label
            seen[label] = 0

        def advance(self, n: int) -> None:
            seen[self.label] += n

        def end(self) -> None:
            pass

    store = S3Store(
        bucket, endpoint_url=moto.url, part_size=5 * MiB, progress=Counter(), retry=NO_WAIT
    )
    path, sha = _file(tmp_path, 10 * MiB + 5)
    store.put_file("p.enc", path, digests=store.digest_file(path), metadata={})
    assert seen["p.enc"] == 10 * MiB + 5


def test_fips_selects_fips_endpoints() -> None:
    store = S3Store("bkt", fips=True, region="us-east-1")
    assert "s3-fips" in store.client.meta.endpoint_url
    plain = S3Store("bkt", region="us-east-1")
    assert "fips" not in plain.client.meta.endpoint_url


def test_cli_progress_bar_counts_bytes_from_threads() -> None:
    import threading

    from scanner.cli.publish import RichProgress

    with RichProgress() as progress:
        progress.begin("objects/sha256/ab.enc", 4 * MiB)
        workers = [threading.Thread(target=progress.advance, args=(MiB,)) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        progress.end()
        progress.advance(1)  # after end(): ignored, never an error
        task = progress._progress.tasks[0]
        assert task.completed == 4 * MiB
        assert task.total == 4 * MiB


def test_if_absent_writes_never_replace(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    from signing.store import ObjectExistsError

    s3store = S3Store(bucket, endpoint_url=moto.url, retry=NO_WAIT)
    fstore = FileStore(tmp_path / "rel")
    for store in (s3store, fstore):
        store.put_bytes("index.json", b"first", metadata={}, if_absent=True)
        with pytest.raises(ObjectExistsError, match="already exists"):
            store.put_bytes("index.json", b"second", metadata={}, if_absent=True)
        assert store.get_bytes("index.json", max_size=100) == b"first"
        store.put_bytes("index.json", b"third", metadata={})
        assert store.get_bytes("index.json", max_size=100) == b"third"


def test_download_resumes_with_range_requests_and_gives_up_when_bounded(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    path, _ = _file(tmp_path, 3 * MiB)
    s3 = moto.client("s3")
    s3.put_object(Bucket=bucket, Key="d.bin", Body=path.read_bytes())

    class Cut:
        """A client whose GET bodies stop after 1 MiB (a connection closed early)."""

        def __init__(self, real: Any) -> None:
            self.real = real
            self.ranges: list[str | None] = []

        def get_object(self, **kw: Any) -> Any:
            self.ranges.append(kw.get("Range"))
            resp = self.real.get_object(**kw)
            body = resp["Body"]

            class Short:
                def iter_chunks(self, n: int) -> Any:
                    yield body.read(MiB)

            return {**resp, "Body": Short()}

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    cut = Cut(s3)
    store = S3Store(bucket, client=cut, retry=NO_WAIT)
    out = tmp_path / "out.bin"
    store.download("d.bin", out, max_size=3 * MiB)
    assert out.read_bytes() == path.read_bytes()
    assert cut.ranges == [None, f"bytes={MiB}-", f"bytes={2 * MiB}-"]
    store.retry = RetryPolicy(attempts=2, sleep=lambda s: None)
    with pytest.raises(StorageError, match="still incomplete after 2 attempts"):
        store.download("d.bin", out, max_size=3 * MiB)
