"""The simulator as a real process: start, send over HTTP, stop with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request


def test_server_process_accepts_a_message_and_stops_cleanly():
    env = {**os.environ, "SMS_GATEWAY_API_KEY": "proc-key"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sms_gateway", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert banner.startswith("sms_gateway listening on http://127.0.0.1:")
        base = banner.split(" on ", 1)[1].strip()
        request = urllib.request.Request(
            f"{base}/v1/messages",
            data=json.dumps({"to": "+37491234567", "text": "Բարև"}).encode(),
            headers={"Authorization": "Bearer proc-key", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
            assert json.load(response)["segments"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
