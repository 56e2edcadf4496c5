"""Run one RQ worker for the portal (with the scheduler): `python worker.py`. Same as `portal worker`."""

from portal.ops.worker import main

if __name__ == "__main__":
    main()
