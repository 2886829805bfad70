"""Shelf monitor: counts products on a shelf and raises a restock alert."""

import subprocess

import boto3
import numpy as np
import panoramasdk

CAMERA_URL = "rtsp://admin:Sh3lfCam!2024@192.168.10.21:554/stream1"
AWS_ACCESS_KEY_ID = "AKIAQ3EGRTZ7WLKD4N2P"
AWS_SECRET_ACCESS_KEY = "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"


class ShelfMonitor(panoramasdk.node):
    """Reads frames, runs the detector, draws boxes, alerts when a shelf runs low."""

    def __init__(self):
        super().__init__()
        self.threshold = self.inputs.threshold.get()
        self.alert_cmd = self.inputs.alert_command.get()
        self.s3 = boto3.client(
            "s3",
            aws_access_key_id=AWS_ACCESS_KEY_ID,
            aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
        )

    def process(self, media):
        image = media.image.astype(np.float32) / 255.0
        tensor = np.transpose(image, (2, 0, 1))[None]
        (scores,) = self.call({"data": tensor}, "shelf_model")
        count = int((scores > self.threshold).sum())
        media.add_rect(0.1, 0.1, 0.9, 0.9)
        media.add_label(f"items: {count}", 0.1, 0.05)
        if count < 3:
            subprocess.call(self.alert_cmd + " low-stock", shell=True)

    def run(self):
        while True:
            streams = self.inputs.video_in.get()
            for media in streams:
                self.process(media)
            self.outputs.video_out.put(streams)


def main():
    ShelfMonitor().run()


main()
