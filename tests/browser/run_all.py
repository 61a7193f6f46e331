"""Runs every browser test against a running `dms serve --demo` (fresh database) and fails when
any fails. Screenshots go to target/browser/.

Usage (from the repository root, selenium in ./.venv):
    .venv/bin/python tests/browser/run_all.py BASE_URL
The tests change data (they create staff and customers), so give them a fresh database: run
scripts/browser-test.sh with this file instead of smoke.py, or start the server by hand.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# smoke first (it checks the untouched demo data), then the pages.
TESTS = ["smoke.py", "pages.py", "members.py", "crm.py", "top_up_requests.py"]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_all.py BASE_URL")
    base = sys.argv[1].rstrip("/")
    failed = []
    for name in TESTS:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            continue
        started = time.time()
        print(f"== {name}", flush=True)
        result = subprocess.run([sys.executable, path, base])
        status = "ok" if result.returncode == 0 else f"FAILED ({result.returncode})"
        print(f"== {name}: {status} in {time.time() - started:.1f}s", flush=True)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        sys.exit("browser tests failed: " + ", ".join(failed))
    print("all browser tests passed")


if __name__ == "__main__":
    main()
