"""ncpd from Python: steer the daemon, read its shared memory, load its
recordings and models (docs/python.md).

    import ncpd
    c = ncpd.Client()                     # the control socket
    shm = ncpd.Shm("/ncpd")               # the shared-memory segment
    rec = ncpd.Recording("data/run1")     # a recording
    model = ncpd.models.load("data/emulator.safetensors")

Pure Python on numpy; ncpd.models.Emulator is a torch.nn.Module when
torch imports.
"""
from . import cpn, models, safetensors
from .client import Client, ProtocolError, ConnectionFailed, default_socket
from .recording import Recording, RecordingError
from .shm import Shm, ShmError, ShmBusy, Window, Step

__all__ = ["Client", "ProtocolError", "ConnectionFailed", "default_socket",
           "Shm", "ShmError", "ShmBusy", "Window", "Step",
           "Recording", "RecordingError", "models", "safetensors"]
__version__ = "0.1.0"     # ncpd's own (NCP_VERSION)
