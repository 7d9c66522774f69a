"""Reaches a host on the internet: the cells have no network."""
import socket

with socket.create_connection(("pypi.org", 443), timeout=10):
    print("connected")
