"""Publish under network faults: a small TCP proxy between the S3 client and moto's server drops
connections and answers with errors mid-upload.

Either publish recovers by retrying, or it fails with no release index; a rerun then completes
the release without sending the parts that had already arrived.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.cli._release_docs import write_release_documents
from scanner.models import (
    Report,
)
from signing.encrypt import RawAesKeyring
from signing.keys import KeyType, write_keypair
from signing.publish import PublishOptions, publish_release
from signing.pull import PullError, pull_release
from signing.signer import load_signer, load_verifier
from signing.store import RetryPolicy, StorageError
from tests.helpers.moto_server import MotoServer, start_moto
from tests.helpers.project_builder import BuiltProject, ProjectSpec, build_project
from tests.helpers.reports import project_report

MiB = 1024 * 1024
KEY = RawAesKeyring(b"\x09" * 32, key_name="faults")
_BODY = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
ERROR_503 = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
    + f"Content-Length: {len(_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _BODY
)


class FaultProxy:
    """A loopback TCP proxy to ``upstream`` with switchable faults.

    * ``drop_after``: once the client has sent this many bytes in total, cut the connection
      carrying the next bytes (once), as a network failure mid-request would;
    * ``error_next``: answer the next N new connections with a 503 SlowDown and close;
    * ``broken``: cut every connection at once (an outage) until cleared;
    * ``break_after``: set ``broken`` once the client has sent this many bytes in total.

    ``part_requests`` counts UploadPart requests seen (``partNumber=`` in request lines).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.sent = 0
        self.drop_after: int | None = None
        self.error_next = 0
        self.broken = False
        self.break_after: int | None = None
        self.part_requests = 0
        self.faults = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self.lock:
            if self.broken:
                self.faults += 1
                client.close()
                return
            if self.error_next:
                self.error_next -= 1
                self.faults += 1
                error = True
            else:
                error = False
        if error:
            try:
                client.recv(65536)
                client.sendall(ERROR_503)
            finally:
                client.close()
            return
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=self._pump_back, args=(upstream, client), daemon=True).start()
        try:
            while True:
                data = client.recv(256 * 1024)
                if not data:
                    break
                with self.lock:
                    self.part_requests += data.count(b"partNumber=")
                    if self.break_after is not None and self.sent + len(data) > self.break_after:
                        self.break_after = None
                        self.broken = True
                    cut = self.broken
                    if self.drop_after is not None and self.sent + len(data) > self.drop_after:
                        self.drop_after = None
                        cut = True
                    if cut:
                        self.faults += 1
                    else:
                        self.sent += len(data)
                if cut:
                    break
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    @staticmethod
    def _pump_back(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(256 * 1024):
                client.sendall(data)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from start_moto()


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[FaultProxy]:
    host, port = moto.url.removeprefix("http://").split(":")
    p = FaultProxy((host, int(port)))
    yield p
    p.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    spec = ProjectSpec(with_model=False, rootfs_files={"opt/data.bin": _random(11 * MiB)})
    return build_project(tmp_path_factory.mktemp("faults") / "app", spec)


def _random(n: int) -> bytes:
    return os.urandom(n)


@pytest.fixture(scope="module")
def signer_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_keypair(tmp_path_factory.mktemp("k") / "ci", KeyType.ECDSA_P256, b"pw")


def _report(proj: BuiltProject) -> Report:
    return project_report(proj, version="2.0.0", policy_sha256="cd" * 32)


def _options(
    proxy: FaultProxy, bucket: str, keys: tuple[Path, Path], state: Path, attempts: int
) -> PublishOptions:
    return PublishOptions(
        destination=f"s3://{bucket}/rel",
        signer=load_signer(keys[0], b"pw"),
        keyring=KEY,
        documents=write_release_documents,
        endpoint_url=proxy.url,
        state_dir=state,
        part_size=5 * MiB,
        workers=1,
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05),
    )


def _index_exists(moto: MotoServer, bucket: str) -> bool:
    resp = moto.client("s3").list_objects_v2(Bucket=bucket, Prefix="rel/shelf_app/2.0.0/index")
    return bool(resp.get("KeyCount"))


@pytest.mark.slow
def test_dropped_connection_and_errors_mid_upload_are_retried(
    moto: MotoServer,
    proxy: FaultProxy,
    project: BuiltProject,
    signer_keys: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    moto.client("s3").create_bucket(Bucket="flaky")
    proxy.drop_after = 3 * MiB  # inside the first part of the container asset
    proxy.error_next = 1  # and the reconnect gets a 503
    result = publish_release(
        project.root,
        _report(project),
        _options(proxy, "flaky", signer_keys, tmp_path / "s", attempts=5),
    )
    assert proxy.faults >= 2
    assert result.index is not None
    assert _index_exists(moto, "flaky")
    out = tmp_path / "out"
    pull_release(
        "s3://flaky/rel/shelf_app/2.0.0",
        out,
        keyring=KEY,
        verifier=load_verifier(signer_keys[1]),
        endpoint_url=proxy.url,
    )
    assert project.container_asset is not None
    assert (
        out / project.rel(project.container_asset)
    ).read_bytes() == project.container_asset.read_bytes()


@pytest.mark.slow
def test_outage_mid_upload_leaves_no_index_and_rerun_sends_only_missing_parts(
    moto: MotoServer,
    proxy: FaultProxy,
    project: BuiltProject,
    signer_keys: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    moto.client("s3").create_bucket(Bucket="outage")
    state = tmp_path / "state"
    # The container asset is sent first (sorted subjects); part 1 (5 MiB) arrives, then the
    # network goes down during part 2 and stays down past every retry.
    proxy.break_after = proxy.sent + 7 * MiB
    with pytest.raises(StorageError, match=r"upload part 2/3 .* after 3 attempts"):
        publish_release(
            project.root,
            _report(project),
            _options(proxy, "outage", signer_keys, state, attempts=3),
        )
    assert not _index_exists(moto, "outage")
    # Nothing visible to the deploy side either.
    with pytest.raises(PullError, match="no release index"):
        pull_release(
            "s3://outage/rel/shelf_app/2.0.0",
            tmp_path / "o1",
            keyring=KEY,
            verifier=load_verifier(signer_keys[1]),
            endpoint_url=moto.url,
        )
    assert not (tmp_path / "o1").exists()

    proxy.broken = False
    proxy.part_requests = 0
    result = publish_release(
        project.root, _report(project), _options(proxy, "outage", signer_keys, state, attempts=3)
    )
    container = next(
        o for o in result.objects if o.key == f"objects/sha256/{project.container_sha}.enc"
    )
    assert "2 parts sent, 1 reused" in container.what
    assert proxy.part_requests == 2
    assert _index_exists(moto, "outage")
    pull_release(
        "s3://outage/rel/shelf_app/2.0.0",
        tmp_path / "o2",
        keyring=KEY,
        verifier=load_verifier(signer_keys[1]),
        endpoint_url=moto.url,
    )
    assert not list(state.rglob("*.enc")), "staged ciphertexts are removed after success"
