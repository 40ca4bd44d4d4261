"""How much memory this process holds, and how much more it may take before the system
(or a container such as Binder's 2 GB) kills it.  Linux reads ``/proc`` and the cgroup;
elsewhere nothing is known and the search sets no automatic bound.

>>> (resident_bytes() or 1) > 0
True
"""

from __future__ import annotations

import os
from pathlib import Path

#: share of the memory available when a search starts that it may take by default
AUTO_SHARE = 0.75
_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def resident_bytes() -> int | None:
    """This process's resident memory now (None where it cannot be read)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def available_bytes() -> int | None:
    """Memory the system can still give: the smaller of the kernel's estimate and what the
    container's limit leaves (None where neither can be read)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            found.append(max(int(limit) - usage, 0))
        break
    return min(found) if found else None


def automatic_bound() -> int | None:
    """The resident size a search may grow to by default: what it holds now plus
    :data:`AUTO_SHARE` of what is available (None where memory cannot be read)."""
    resident, available = resident_bytes(), available_bytes()
    if resident is None or available is None:
        return None
    return resident + int(AUTO_SHARE * available)
