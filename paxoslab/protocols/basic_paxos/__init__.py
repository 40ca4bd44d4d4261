"""Basic Paxos (Lamport, *Paxos Made Simple* §2): the lecture is :mod:`.node`."""

from .node import *  # noqa: F403 - a first step: the module moved into a package
from .node import SPEC  # noqa: F401
