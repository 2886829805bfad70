"""Panorama test applications for the sandbox: one per behaviour the profile must catch.

Each is the source of a ``/panorama/<name>.py`` entry point written against the emulated
``panoramasdk``. Sizes are module constants so tests assert against the same numbers.
"""

from __future__ import annotations

MIB = 1024 * 1024
ALLOC_MIB = 400  # memory_hog's allocation, held while it processes frames
OOM_MIB = 1200  # past the hard limit the tests set (768 MB)
DISK_MIB = 100  # disk_writer's total, under the tmpfs cap, over the 64 MB test budget
CHILDREN = 60  # fork_bomb's children (threads of the pids controller count too)
CRASH_AFTER = 3  # crasher raises while processing frame 4

_HEAD = """\
import os, sys, time
import panoramasdk


class App(panoramasdk.node):
    def __init__(self):
        super().__init__()
        self.frames = 0

"""

_LOOP = """

app = App()
while True:
    app.step()
"""

WELL_BEHAVED = (
    _HEAD
    + """\
    def step(self):
        media = self.inputs.video_in.get()
        for m in media:
            small = m.image[::8, ::8].astype("float32") / 255.0
            out = self.call({"data": small[None]}, "model")
            m.add_rect(0.1, 0.1, 0.5, 0.5)
            m.add_label("ok %d" % len(out), 0.1, 0.05)
        self.outputs.video_out.put(media)
        self.frames += 1
"""
    + _LOOP
)

MEMORY_HOG = (
    _HEAD
    + f"""\
    def step(self):
        if not hasattr(self, "ballast"):
            self.ballast = b"\\x01" * ({ALLOC_MIB} * 1024 * 1024)  # every page written
        media = self.inputs.video_in.get()
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

OOM = (
    _HEAD
    + f"""\
    def step(self):
        media = self.inputs.video_in.get()
        self.ballast = b"\\x01" * ({OOM_MIB} * 1024 * 1024)
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

CPU_SPIN = (
    _HEAD
    + """\
    def step(self):
        media = self.inputs.video_in.get()
        # 0.2 s of CPU time (not wall time: shared vCPUs must not shorten the spin)
        end = time.process_time() + 0.2
        x = 0
        while time.process_time() < end:
            x += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

DISK_WRITER = (
    _HEAD
    + f"""\
    def step(self):
        media = self.inputs.video_in.get()
        if self.frames == 0:
            chunk = b"\\x02" * (1024 * 1024)
            with open("/opt/aws/panorama/storage/dump.bin", "wb") as fp:
                for _ in range({DISK_MIB}):
                    fp.write(chunk)
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

FORK_BOMB = (
    _HEAD
    + f"""\
    def step(self):
        media = self.inputs.video_in.get()
        if self.frames == 0:
            for _ in range({CHILDREN}):
                try:
                    pid = os.fork()
                except OSError:
                    break  # the pids limit said no: keep going with what we have
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

NETWORK = (
    _HEAD
    + """\
    def step(self):
        import socket
        media = self.inputs.video_in.get()
        if self.frames == 0:
            for target in (("93.184.216.34", 80), ("example.com", 443)):
                try:
                    socket.create_connection(target, timeout=0.5).close()
                except OSError:
                    pass
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"x", ("198.51.100.7", 53))
            except OSError:
                pass
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

CRASHER = (
    _HEAD
    + f"""\
    def step(self):
        media = self.inputs.video_in.get()
        if self.frames == {CRASH_AFTER}:
            raise RuntimeError("model output had an unexpected shape")
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

HANGER = (
    _HEAD
    + """\
    def step(self):
        media = self.inputs.video_in.get()
        if self.frames == 2:
            time.sleep(3600)  # a deadlock, as far as the device can tell
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

FRAME_CHECK = (
    _HEAD
    + """\
    def step(self):
        media = self.inputs.video_in.get()
        img = media[0].image
        # the test's images are 32x24 with pixel (0, 0) = BGR (frame, 10, 20)
        if img.shape != (24, 32, 3) or list(img[0, 0]) != [self.frames % 3, 10, 20]:
            raise SystemExit("unexpected frame %r %r" % (img.shape, list(img[0, 0])))
        self.frames += 1
        self.outputs.video_out.put(media)
"""
    + _LOOP
)

APPS = {
    "well_behaved": WELL_BEHAVED,
    "memory_hog": MEMORY_HOG,
    "oom": OOM,
    "cpu_spin": CPU_SPIN,
    "disk_writer": DISK_WRITER,
    "fork_bomb": FORK_BOMB,
    "network": NETWORK,
    "crasher": CRASHER,
    "hanger": HANGER,
    "frame_check": FRAME_CHECK,
}
