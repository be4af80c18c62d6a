"""``python -m dicomteach.live``: the live-session service, as the hub runs it."""

from __future__ import annotations

from dicomteach.live.service import main

if __name__ == "__main__":
    main()
