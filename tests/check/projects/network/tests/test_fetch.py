import socket


def test_fetch_index():
    with socket.create_connection(("pypi.org", 443), timeout=10):
        pass
