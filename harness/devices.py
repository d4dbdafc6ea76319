"""Device profiles (devices/*.toml): threads, camera, sensors, providers, power-mode commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.context import BackendContext
from harness.errors import ConfigError
from harness.paths import project_root
from harness.tables import from_table, load_toml

__all__ = ["DEVICE_NAMES", "SENSOR_NAMES", "DeviceProfile", "devices_dir", "load_device", "resolve_device"]

DEVICE_NAMES = ("laptop", "gpu-server", "jetson", "jetson-nano", "rpi4", "rpi5")
SENSOR_NAMES = ("rapl", "nvml", "ina3221", "ina2xx", "pi5_pmic", "tegrastats")


@dataclass(frozen=True)
class DeviceProfile:
    """What arbench needs to know about a kind of device.

    ``threads``: compute threads for backends (0: the runtime decides). ``camera``: an OpenCV index,
    /dev/videoN or a GStreamer pipeline. ``providers``: ONNX Runtime execution providers in order of
    preference (the first is what the profile is for; a backend that ends up lower is a fallback,
    harness.accelerators). ``require_accel``: a fallback stops the run (exit 2) instead of a warning
    (``arbench run --require-accel`` sets it). ``power_modes``: name → shell commands that set it (run
    only by `arbench system tune`, never silently).
    """

    name: str
    description: str = ""
    threads: int = 0
    camera: str = "0"
    sensors: tuple[str, ...] = ()
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    require_accel: bool = False
    power_modes: dict[str, list[str]] = field(default_factory=dict)

    def context(self) -> BackendContext:
        """The context this profile gives its backends (threads, providers, camera)."""
        return BackendContext(threads=self.threads, providers=self.providers, camera=self.camera)

    def __post_init__(self) -> None:
        unknown = [s for s in self.sensors if s not in SENSOR_NAMES]
        if unknown:
            raise ConfigError(f"device {self.name}: unknown sensor {unknown[0]!r}; valid: {', '.join(SENSOR_NAMES)}")


def devices_dir() -> Path:
    """The folder of shipped device profiles."""
    return project_root() / "devices"


def load_device(name: str, directory: Path | None = None) -> DeviceProfile:
    """Load the profile ``name`` from ``directory`` (default: the shipped devices/)."""
    folder = directory or devices_dir()
    path = folder / f"{name}.toml"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.toml"))
        raise ConfigError(f"unknown device {name!r}; valid: auto, {', '.join(have)}")
    profile = from_table(DeviceProfile, load_toml(path), str(path))
    if profile.name != name:
        raise ConfigError(f"{path}: name {profile.name!r} does not match the file name {name!r}")
    return profile


def resolve_device(name: str, root: Path = Path("/")) -> DeviceProfile:
    """Load ``name``, detecting the device first when it is "auto"."""
    if name == "auto":
        from harness.system.environment import detect_device

        name = detect_device(root)
    return load_device(name)


def accelerators_here() -> list[str]:
    """One line per runtime arbench uses: the accelerators it can use on this machine, or why it cannot.

    Nothing is started on a GPU: ONNX Runtime lists its providers, CTranslate2 counts CUDA devices, torch
    says whether its build has CUDA and a device is visible, and NVML is probed as the energy meter would.
    """
    from importlib.util import find_spec

    lines = []
    if find_spec("onnxruntime") is None:
        lines.append("ONNX Runtime: not installed")
    else:
        import onnxruntime

        providers = onnxruntime.get_available_providers()
        gpu = [p for p in providers if p in ("TensorrtExecutionProvider", "CUDAExecutionProvider")]
        why = "" if gpu else " (a CPU-only build: pip install onnxruntime-gpu in its place, or NVIDIA's wheel for your JetPack on a Jetson)"
        lines.append(f"ONNX Runtime {onnxruntime.__version__}: {', '.join(providers)}{why}")
    if find_spec("ctranslate2") is None:
        lines.append("CTranslate2: not installed")
    else:
        import ctranslate2

        try:
            count = ctranslate2.get_cuda_device_count()
        except RuntimeError as exc:
            count, why = 0, f" ({exc})"
        else:
            why = "" if count else " (no CUDA driver or GPU visible)"
        lines.append(f"CTranslate2 {ctranslate2.__version__}: cpu{f', cuda x{count}' if count else ''}{why}")
    if find_spec("torch") is None:
        lines.append("PyTorch: not installed")
    else:
        import torch

        if torch.version.cuda is None:
            lines.append(f"PyTorch {torch.__version__}: cpu (a CPU-only build)")
        elif not torch.cuda.is_available():
            lines.append(f"PyTorch {torch.__version__}: cpu (built for CUDA {torch.version.cuda}, but no GPU or driver is visible)")
        else:
            lines.append(f"PyTorch {torch.__version__}: cpu, cuda ({torch.cuda.get_device_name(0)})")
    from harness.energy.nvml import probe

    found = probe()
    for sensor in found.sensors:
        sensor.close()
    lines.append(f"NVML: {', '.join(s.name + ' ' + s.kind for s in found.sensors)}" if found.found else f"NVML: {found.reason}")
    return lines
