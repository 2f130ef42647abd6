"""The helpers the PyTorch reference benchmarks import (`from cpumon import CpuMonitor, emit, peak_rss_mb`).

The reference folder does not ship this module; these are minimal equivalents: CPU time used while the
timed loop ran, one JSON line of output, and the process's peak resident memory.
"""
import json
import os
import resource
import sys
import time


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(d):
    sys.stdout.write(json.dumps(d) + "\n")
    sys.stdout.flush()


class CpuMonitor:
    def __enter__(self):
        self.wall = time.perf_counter()
        self.cpu = os.times()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        t = os.times()
        self.cpu = (t.user - self.cpu.user) + (t.system - self.cpu.system)
        return False

    def as_dict(self):
        return dict(cpu_seconds=round(self.cpu, 3), cpu_util=round(self.cpu / max(self.wall, 1e-9), 2))
