"""A local S3 server (moto) speaking S3's real HTTP API, as MinIO, Aliyun OSS and Tencent COS do."""

from __future__ import annotations

from moto.server import ThreadedMotoServer


def start_s3_server():
    """Start one on a free local port; (its endpoint URL, the server to stop)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server
