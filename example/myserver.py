"""The lab exercise's first server: this folder over plain HTTP.

    python3 myserver.py
    curl http://127.0.0.1:8000/myfile1.txt

filehub serves the same files on one port, and adds the room at /ws.
"""
import functools
import http.server
import os

PORT = 8000
HERE = os.path.dirname(os.path.abspath(__file__))

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=HERE)
with http.server.ThreadingHTTPServer(("127.0.0.1", PORT), handler) as httpd:
    print(f"serving {HERE} at http://127.0.0.1:{PORT}/", flush=True)
    httpd.serve_forever()
