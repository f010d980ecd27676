"""deploy/nginx.conf in front of real Voilà (deploy/voila.json), as docs/deploy.md installs it.

The site file is used as shipped except for what a test must change: loopback ports instead of 80
and 443, a self-signed certificate, and the upstream's port. Skipped without nginx or openssl.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import REPO, VoilaServer, free_port
from tests.server.kernel_ws import channels_url, exchange, message

SITE = REPO / "deploy" / "nginx.conf"
TOKEN = "nginx-test-token"


def site_for_test(http_port: int, https_port: int, upstream_port: int, cert: str, key: str) -> str:
    """deploy/nginx.conf with loopback ports, a test certificate and Voilà's port; fails if a line moved."""
    text = SITE.read_text()
    replacements = [
        ("    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl;\n", f"    listen 127.0.0.1:{https_port} ssl;\n"),
        ("    listen [::]:443 ssl;\n", ""),
        ("/etc/letsencrypt/live/course.example.org/fullchain.pem", cert),
        ("/etc/letsencrypt/live/course.example.org/privkey.pem", key),
        ("server 127.0.0.1:8866;", f"server 127.0.0.1:{upstream_port};"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """nginx with the course's site on loopback ports, in front of Voilà; yields its HTTPS base URL."""
    executable = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if executable is None or shutil.which("openssl") is None:
        missing = "nginx or openssl not installed (apt-get install nginx openssl)"
        if os.environ.get("LAYERVIZ_REQUIRE_NGINX") == "1":
            pytest.fail(f"LAYERVIZ_REQUIRE_NGINX=1 but {missing}")
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("nginx")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    http_port, https_port = free_port(), free_port()
    with VoilaServer(REPO / "notebooks", extra_args=[f"--token={TOKEN}"]) as voila:
        (work / "site.conf").write_text(site_for_test(http_port, https_port, voila.port, str(cert), str(key)))
        temp = {name: work / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        (work / "nginx.conf").write_text(f"""
pid {work}/nginx.pid;
events {{}}
http {{
    access_log {work}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {work}/site.conf;
}}
""")
        command = [executable, "-p", str(work), "-e", str(work / "error.log"), "-c", str(work / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        server = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            base = f"https://127.0.0.1:{https_port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    get(base + "/", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((work / "error.log").read_text()) from None
                    time.sleep(0.2)
            yield {"https": base, "http": f"http://127.0.0.1:{http_port}", "work": work}
        finally:
            server.terminate()
            server.wait(10)


def get(url: str, timeout: float = 120, cookies: http.cookiejar.CookieJar | None = None) -> tuple[int, str, str]:
    """GET ``url`` (test certificate accepted, redirects not followed, ``cookies`` kept): status, Location, body."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = http.cookiejar.CookieJar() if cookies is None else cookies
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect,
                                         urllib.request.HTTPCookieProcessor(jar))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode("utf-8", "replace")


def test_plain_http_is_redirected_to_https(nginx):
    status, location, _ = get(nginx["http"] + "/voila/render/dropout.ipynb")
    assert status == 301
    assert location.startswith("https://") and location.endswith("/voila/render/dropout.ipynb")


def test_the_page_and_its_kernel_websocket_work_through_nginx(nginx):
    jar = http.cookiejar.CookieJar()
    status, _, page = get(nginx["https"] + f"/voila/render/dropout.ipynb?token={TOKEN}", cookies=jar)
    assert status == 200
    # As a browser does: the login cookie the token left, not the token (a token skips the Origin check).
    url = channels_url("wss://" + nginx["https"].removeprefix("https://"), page)
    headers = {"Origin": nginx["https"], "Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)}
    reply = exchange(url, [message("comm_info_request", {})], until="comm_info_reply", headers=headers)[-1]
    assert reply["header"]["msg_type"] == "comm_info_reply"
    upgraded = re.compile(r'"GET /api/kernels/[0-9a-f-]+/channels\S* HTTP/1.1" 101 ')
    deadline = time.monotonic() + 10  # nginx writes a websocket's line when the connection has closed
    while not upgraded.search((nginx["work"] / "access.log").read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert upgraded.search((nginx["work"] / "access.log").read_text())  # upgraded by nginx


def test_without_the_token_the_course_is_not_served(nginx):
    status, location, page = get(nginx["https"] + "/voila/render/dropout.ipynb")
    assert status == 302 and "/login" in location and "kernelId" not in page
