"""The model server and its client: one GPU machine analyses windows for many desktops.

- ``wire``: the request and response format of the versioned HTTP API (JSON + raw bytes, never pickle) and the
  size limits every request is checked against;
- ``security``: the bind-address policy (loopback unless told otherwise; beyond it a bearer token and TLS),
  tokens compared in constant time, the per-client rate limit;
- ``client``: ``RemoteModel`` (the model's API over HTTP) and ``RemoteBackend`` (the inference worker's backend);
- ``credentials``: where the desktop keeps a server's token (the OS keyring, else a file only the user reads);
- ``cluster``: joining or starting Ray (a started instance listens on loopback only);
- ``app``: the Ray Serve application (FastAPI ingress, one model per replica); needs the ``serve`` extra.

Only ``app`` and ``cluster`` import Ray or FastAPI, so the desktop and the CLI client work without the extra.
"""

SERVE_EXTRA_HINT = "pip install 'r1omni-live[serve]' (Ray Serve and FastAPI)"
