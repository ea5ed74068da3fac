"""shim: a daemon under tests/powercut/recorder.so, recording and/or
injecting faults (recorder.c documents the variables).

    d = shim.Daemon(["-N"], log="/tmp/x/log").start()
    d = shim.Daemon(faults={"MQD_FAULT_SYNC": "1+",
                            "MQD_FAULT_WHEN": path}).start()
"""

import os

import mqdtest


def recorder_path():
    path = os.environ.get("MQD_RECORDER", "")
    if not os.path.isfile(path):
        raise AssertionError("MQD_RECORDER=%r is not the built shim: run "
                             "through make check (it builds "
                             "tests/powercut/recorder.la)" % path)
    return path


def environment(data_dir, log=None, faults=None):
    """The variables that put a program under the shim for data_dir."""
    env = dict(LD_PRELOAD=recorder_path(), MQD_RECORD_DIR=data_dir)
    if log is not None:
        env["MQD_RECORD_LOG"] = log
    env.update(faults or {})
    # Under AddressSanitizer the shim comes before ASan's runtime, which
    # then refuses to start unless told that this is meant.
    env["ASAN_OPTIONS"] = ":".join(filter(None, (
        os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0")))
    return env


class Daemon(mqdtest.Daemon):
    """mqdtest.Daemon under the shim; log and faults as environment()."""

    def __init__(self, args=(), tmp=None, log=None, faults=None):
        super().__init__(args, tmp=tmp)
        self.shim_env = environment(self.data_dir, log, faults)

    def _spawn(self):
        saved = {k: os.environ.get(k) for k in self.shim_env}
        os.environ.update(self.shim_env)
        try:
            return super()._spawn()
        finally:
            for k, v in saved.items():
                if v is None:
                    del os.environ[k]
                else:
                    os.environ[k] = v
