"""The per-key lock now lives in the SDK (infera.keylock), shared with the relayer."""

from infera.keylock import KeyInUse, KeyLock

__all__ = ["KeyInUse", "KeyLock"]
