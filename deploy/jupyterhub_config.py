"""JupyterHub for a large course: each student logs in to the hub and gets a Voilà of their own.

Run from the checkout's virtual environment (see docs/deploy.md, "A large course on JupyterHub")::

    .venv/bin/jupyterhub -f deploy/jupyterhub_config.py

Each student's server is ``jupyter standaloneproxy`` (package ``jupyter-server-proxy``) in front of
``python -m voila notebooks --Voila.config_file_paths=deploy``: the proxy checks the hub login (OAuth)
on every request and websocket, then passes it to Voilà, which runs with the same deploy/voila.json
as ``python3 dev.py serve`` (no tracebacks, no code execution from the browser, culling).

Site choices are left to command-line flags or to a second config file loaded after this one
(``-f`` takes one file; put ``load_subconfig`` in your own file, or pass flags), for example::

    --JupyterHub.authenticator_class=nativeauthenticator.NativeAuthenticator
    --JupyterHub.spawner_class=systemdspawner.SystemdSpawner   # enforces mem_limit on one machine
    --Authenticator.allowed_users=... or --Authenticator.allow_all=True

tests/server/test_jupyterhub.py runs this file with ``--JupyterHub.authenticator_class=dummy`` and
``--JupyterHub.spawner_class=simple`` on free loopback ports.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (defined by JupyterHub when it loads this file)

DEPLOY = Path(__file__).resolve().parent
#: The course checkout; LAYERVIZ_ROOT points elsewhere when this file is copied out of it.
ROOT = Path(os.environ.get("LAYERVIZ_ROOT", DEPLOY.parent)).resolve()
#: The environment JupyterHub runs in has Voilà, layerviz and jupyter-server-proxy installed too.
BIN = Path(sys.executable).parent

# The hub's public address: nginx (deploy/nginx.conf) terminates TLS in front of it.
c.JupyterHub.bind_url = os.environ.get("LAYERVIZ_HUB_URL", "http://127.0.0.1:8000/")
c.JupyterHub.hub_bind_url = os.environ.get("LAYERVIZ_HUB_API_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = os.environ.get("LAYERVIZ_PROXY_API_URL", "http://127.0.0.1:8001")

c.Spawner.cmd = [
    str(BIN / "jupyter-standaloneproxy"),
    # Voilà is told its public prefix (/user/<name>/) and receives the full path, so every URL on
    # its page (static files, the kernel websocket) points back through the hub's proxy.
    "--absolute-url",
    # 0: no periodic "still active" heartbeat. The proxy's heartbeat reports activity whether or not
    # anyone uses the page, which would keep every server alive forever; without it the hub takes
    # activity from configurable-http-proxy's traffic, which the idle culler can trust.
    "--activity-interval=0",
    # The first request starts Voilà (a few seconds on a busy machine).
    "--timeout=60",
    "--",
    str(BIN / "python"), "-m", "voila", str(ROOT / "notebooks"),
    f"--Voila.config_file_paths={DEPLOY}",
    "--Voila.ip=127.0.0.1", "--port={port}", "--Voila.base_url={base_url}/", "--no-browser",
    # One student per server: no pool of preheated kernels (deploy/voila.json keeps one per notebook,
    # ten kernels, ~1 GB, for every student), and a few tabs at most.
    "--VoilaConfiguration.preheat_kernel=False",
    f"--ClassroomKernelManager.max_kernels={os.environ.get('LAYERVIZ_KERNELS_PER_STUDENT', '3')}",
]
c.Spawner.environment = {
    # Voilà finds the course's template (deploy/share/jupyter/voila/templates/layerviz) here.
    "JUPYTER_PATH": str(DEPLOY / "share" / "jupyter"),
}
# Measured RSS: the proxy ~80 MB, Voilà ~125 MB, each kernel ~100-120 MB; with 3 kernels ~550 MB. Only
# spawners that can enforce it do (SystemdSpawner, DockerSpawner, KubeSpawner); LocalProcessSpawner
# only passes it on as MEM_LIMIT.
c.Spawner.mem_limit = os.environ.get("LAYERVIZ_MEM_LIMIT", "640M")
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60

# Stop servers nobody used for an hour (the hub sees activity through the proxy's traffic).
CULL_TIMEOUT = os.environ.get("LAYERVIZ_CULL_TIMEOUT", "3600")
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_TIMEOUT}"],
}]
