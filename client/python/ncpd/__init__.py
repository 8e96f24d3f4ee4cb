"""ncpd from Python: steer the daemon, read its shared memory, load its
recordings and models (docs/python.md).

    import ncpd
    c = ncpd.Client()                     # the control socket
    shm = ncpd.Shm("/ncpd")               # the shared-memory segment
    rec = ncpd.Recording("data/run1")     # a recording
    model = ncpd.models.load("data/emulator.safetensors")

Pure Python on numpy; ncpd.models also gives torch.nn.Modules when torch
imports.
"""
from .shm import Shm, ShmError, ShmBusy, Window, Step
from .recording import Recording, RecordingError

__all__ = ["Shm", "ShmError", "ShmBusy", "Window", "Step",
           "Recording", "RecordingError"]
__version__ = "1.0"
