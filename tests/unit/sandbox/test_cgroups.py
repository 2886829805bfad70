"""Reading per-run cgroup counters (v1 and v2) from a fake cgroup tree."""

from __future__ import annotations

from pathlib import Path

from scanner.sandbox._cgroups import RunCgroup, cgroup_mounts

MOUNTINFO = """\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw
31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_mountinfo_is_parsed(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text(MOUNTINFO)
    m = cgroup_mounts(mi)
    assert m["memory"] == Path("/sys/fs/cgroup/memory")
    assert m["cpuacct"] == m["cpu"] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert m["name=systemd"] == Path("/sys/fs/cgroup/systemd")
    assert m["unified"] == Path("/sys/fs/cgroup/unified")


def write(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)


def test_v1_counters(tmp_path):
    mounts = {c: tmp_path / c for c in ("memory", "cpuacct", "pids", "blkio")}
    cg = RunCgroup("abc", version=1, mounts=mounts)
    cg.create()
    rel = Path("panorama-gate/abc")
    write(
        mounts["memory"] / rel,
        {
            "memory.max_usage_in_bytes": "123456\n",
            "memory.failcnt": "2\n",
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        },
    )
    write(mounts["cpuacct"] / rel, {"cpuacct.usage": "2500000000\n"})
    write(mounts["pids"] / rel, {"pids.peak": "48\n", "pids.events": "max 0\n"})
    write(
        mounts["blkio"] / rel,
        {
            "blkio.throttle.io_service_bytes_recursive": (
                "8:0 Read 10\n8:0 Write 4096\n8:0 Total 4106\nTotal 4106\n"
            )
        },
    )
    cg.pids_max = 48
    f = cg.read()
    assert (f.peak_memory_bytes, f.cpu_seconds, f.max_processes, f.oom_kills) == (
        123456,
        2.5,
        48,
        1,
    )
    assert f.io_write_bytes == 4096
    assert f.memory_limit_hits == 2
    assert f.pids_limit_reached is True
    assert f.version == 1


def test_v2_counters(tmp_path):
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.subtree_control").write_text("")
    cg = RunCgroup("abc", version=2, mounts={"unified": root})
    cg.create()
    write(
        root / "panorama-gate/abc",
        {
            "memory.peak": "777\n",
            "cpu.stat": "usage_usec 1500000\nuser_usec 1000000\n",
            "pids.peak": "7\n",
            "pids.events": "max 3\n",
            "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
            "io.stat": "8:0 rbytes=1 wbytes=100 rios=1 wios=1\n8:16 rbytes=0 wbytes=20\n",
        },
    )
    f = cg.read()
    assert (f.peak_memory_bytes, f.cpu_seconds, f.max_processes) == (777, 1.5, 7)
    assert (f.pids_limit_hits, f.oom_kills, f.memory_limit_hits, f.io_write_bytes) == (3, 1, 4, 120)
    assert f.version == 2


def test_missing_counters_are_unknown_with_a_note(tmp_path):
    mounts = {c: tmp_path / c for c in ("memory", "cpuacct", "pids")}
    cg = RunCgroup("x", version=1, mounts=mounts)
    f = cg.read()
    assert f.peak_memory_bytes is None
    assert f.max_processes is None
    assert any("pids.peak" in n for n in f.notes)
