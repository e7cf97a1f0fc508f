"""The image's health check: exit 0 when GET /healthz answers 200, else 1 with the reason."""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Ask the web process on this container's PORT whether Redis and the database answer."""
    url = f"http://127.0.0.1:{os.environ.get('PORT') or '5000'}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            response.read()
    except urllib.error.HTTPError as exc:  # 503 names the failing part in its body
        print(f"{url}: {exc.code} {exc.read().decode(errors='replace').strip()}")
        return 1
    except OSError as exc:
        print(f"{url}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
