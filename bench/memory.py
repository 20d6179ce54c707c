"""Peak resident memory of a process tree, sampled while it runs."""

from __future__ import annotations

import contextlib
import threading

import psutil

INTERVAL_S = 0.5


class PeakRss:
    """Samples ``pid`` and its descendants every INTERVAL_S in a daemon thread until stopped."""

    def __init__(self, pid: int) -> None:
        self.tree_bytes = 0  # the largest sum over the tree
        self.process_bytes = 0  # the largest single process
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                sizes = []
                for process in (self._root, *self._root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        sizes.append(process.memory_info().rss)
                if sizes:
                    self.tree_bytes = max(self.tree_bytes, sum(sizes))
                    self.process_bytes = max(self.process_bytes, max(sizes))
            self._stop.wait(INTERVAL_S)

    def stop(self) -> PeakRss:
        self._stop.set()
        self._thread.join()
        return self
