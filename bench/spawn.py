"""Run one command and write what the kernel measured of it as JSON to a file.

    python -I -S bench/spawn.py REPORT_PATH COMMAND [ARGS...]

Writes {"exit_code", "wall_seconds", "cpu_user_seconds", "cpu_sys_seconds",
"peak_rss_kib", "rss_floor_kib"} to REPORT_PATH once the command has ended.

Why a separate, tiny process: Linux carries a process's resident-set high-water
mark across fork and exec, so a command started straight from the benchmark
(a Python process holding pymongo and test data) would report at least the
benchmark's own peak RSS. Started with ``-I -S`` and importing nothing but
``os``, ``json`` and ``time``, this launcher is about 8 MB; that is the floor
under any peak RSS it reports, and it reports the floor too (``rss_floor_kib``).
"""

import json
import os
import sys
import time


def own_peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    report, argv = sys.argv[1], sys.argv[2:]
    floor = own_peak_rss_kib()
    t0 = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    with open(report, "w") as f:
        json.dump({"exit_code": os.waitstatus_to_exitcode(status), "wall_seconds": wall,
                   "cpu_user_seconds": usage.ru_utime, "cpu_sys_seconds": usage.ru_stime,
                   "peak_rss_kib": usage.ru_maxrss, "rss_floor_kib": floor}, f)


if __name__ == "__main__":
    main()
