"""``python -m speedpix.testing``: serve the emulator until interrupted."""

from speedpix.testing._serve import main

raise SystemExit(main())
