"""The Python side of the power-cut recorder (tests/powercut/recorder.c):
pclog reads its log, shim starts a daemon under it."""
