"""The Python side of the power-cut recorder (tests/powercut/recorder.c):
pclog reads its log, shim starts a daemon under it, fsmodel and wire turn
a log into file states and a conversation, load makes the traffic, checker
runs the daemon on the states."""
