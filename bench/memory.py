"""Peak resident memory of a process tree, sampled while it runs."""

from __future__ import annotations

import threading

import psutil

from local_aws.metrics import SAMPLE_INTERVAL_S, tree_rss


class PeakRss:
    """Samples ``pid`` and its descendants every SAMPLE_INTERVAL_S in a daemon thread until stopped."""

    def __init__(self, pid: int) -> None:
        self.tree_bytes = 0  # the largest sum over the tree
        self.process_bytes = 0  # the largest single process
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            if sizes := tree_rss(self._root):  # the emulator's own sampler of Glue runs
                self.tree_bytes = max(self.tree_bytes, sizes[0])
                self.process_bytes = max(self.process_bytes, sizes[1])
            self._stop.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> PeakRss:
        self._stop.set()
        self._thread.join()
        return self
