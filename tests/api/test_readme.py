"""README.md's "First steps" block runs as written (issue: the README must
never drift from the server): it is extracted between its markers and run
by bash against a fresh server with that server's admin token."""
import os
import re
import subprocess

import fm


def first_steps():
    with open(os.path.join(fm.REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- first-steps:begin -->\s*```sh\n(.*?)```\s*<!-- first-steps:end -->", text, re.S)
    assert m, "README.md has no first-steps block"
    return m.group(1)


def test_readme_first_steps_run_as_written(spawn):
    s = spawn()
    env = dict(os.environ, FM="http://127.0.0.1:%d" % s.port, FIREMODE_ADMIN_TOKEN=s.admin_token,
               PATH="/usr/bin:" + os.environ.get("PATH", ""))  # python3: Debian's
    p = subprocess.run(["bash", "-c", first_steps()], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (p.stdout[-3000:], p.stderr[-3000:])
    out = p.stdout
    assert '"status":"ok"' in out
    assert "the old ETag again: 412" in out
    assert '"original_filename":"late.pdf"' in out and '"deleted":false' in out  # the feed
    assert '"status":"completed","technician_id":null,"notes":null' in out  # PUT replaced the session
    assert '"data":[' in out
