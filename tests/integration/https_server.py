#!/usr/bin/python3
"""Test fixture: serves files from DIR over HTTPS on 127.0.0.1:PORT with CERT/KEY.
Usage: https_server.py PORT DIR CERT KEY"""
import functools
import ssl
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = functools.partial(SimpleHTTPRequestHandler, directory=root)
handler.log_message = lambda *a: None
server = ThreadingHTTPServer(("127.0.0.1", port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
