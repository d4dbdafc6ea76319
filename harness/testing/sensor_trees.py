"""Fake energy-sensor trees laid out exactly as the real ones.

Used by arbench's tests and by anyone adding a sensor (re-exported from ``harness.testing``). Layouts follow
../shared/reference/energy-sensors.md: flat /sys/class/powercap with links into /sys/devices/virtual/powercap,
``subsystem`` and ``device`` links, hex zone ids, 0400 ``energy_uj``; JetPack 4 IIO files with " ma" limits;
JetPack 5+ hwmon with unstable hwmonN, ``NC`` labels and the ``in7`` sum channel; INA219/226 hwmon; Pi 5
``vcgencmd`` and ``tegrastats`` as executables printing captured output. Values end in a newline as sysfs
writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.testing.files import link as _link
from harness.testing.files import write

__all__ = [
    "AGX_ORIN",
    "MAX_RANGE_UJ",
    "NANO_RAILS",
    "ORIN_NX",
    "PI5_PMIC_OUTPUT",
    "FakeRapl",
    "build_fake_ina2xx_tree",
    "build_fake_jetson_hwmon_tree",
    "build_fake_jetson_iio_tree",
    "build_fake_jetson_tools",
    "build_fake_rapl_tree",
    "build_fake_tegrastats",
    "build_fake_vcgencmd",
]

MAX_RANGE_UJ = 262143328850  # 0xFFFFFFFF × 2^-14 J, as an i5-13500 reports


def _write(root: Path, path: str, text: str, mode: int = 0o444) -> Path:
    """A sensor file: read-only, as sysfs makes them (RAPL's energy_uj is 0400: the callers say so)."""
    return write(root, path, text, mode)


def _script(root: Path, path: str, body: str) -> Path:
    return _write(root, path, "#!/bin/sh\n" + body, mode=0o755)


# --- RAPL -----------------------------------------------------------------------------------------------


@dataclass
class FakeRapl:
    """A fake powercap tree: the real (nested) file of each domain's counter and range."""

    root: Path
    energy_files: dict[str, Path] = field(default_factory=dict)
    max_files: dict[str, Path] = field(default_factory=dict)


def _zone(root: Path, fake: FakeRapl, rel: str, key: str, name: str, energy_uj: int, max_uj: int, modes: tuple[int, int]) -> None:
    base = f"/sys/devices/virtual/powercap/{rel}"
    depth = rel.count("/") + 1  # levels below /sys/devices/virtual/powercap
    _write(root, f"{base}/name", f"{name}\n")
    fake.energy_files[key] = _write(root, f"{base}/energy_uj", f"{energy_uj}\n", modes[0])
    fake.max_files[key] = _write(root, f"{base}/max_energy_range_uj", f"{max_uj}\n", modes[1])
    _write(root, f"{base}/enabled", "1\n", 0o644)
    for n, (cname, limit, window) in enumerate((("long_term", 65000000, 7995392), ("short_term", 117000000, 2440))):
        _write(root, f"{base}/constraint_{n}_name", f"{cname}\n")
        _write(root, f"{base}/constraint_{n}_power_limit_uw", f"{limit}\n", 0o644)
        _write(root, f"{base}/constraint_{n}_time_window_us", f"{window}\n", 0o644)
    _write(root, f"{base}/uevent", "")
    _link(root, f"{base}/subsystem", "../" * (depth + 3) + "class/powercap")
    _link(root, f"{base}/device", "../../" + rel.split("/")[-2])
    _link(root, f"/sys/class/powercap/{rel.rsplit('/', maxsplit=1)[-1]}", "../../devices/virtual/powercap/" + rel)


def build_fake_rapl_tree(
    root: Path,
    *,
    packages: int = 1,
    subzones: Sequence[str] = ("core", "uncore"),
    psys: bool = True,
    mmio: bool = True,
    energy_uj: int = 65997277274,
    max_energy_range_uj: int = MAX_RANGE_UJ,
    energy_mode: int = 0o400,
    max_mode: int = 0o444,
) -> FakeRapl:
    """A laptop's powercap tree (package-N with core/uncore, psys, the MMIO duplicate); ``subzones=("dram",)`` for a server.

    Zone ids are hex: the eleventh package is ``intel-rapl:a``. ``energy_uj`` is 0400 (root only) as since
    Linux 5.10; ``max_mode=0o400`` gives the distro variant where the range is root-only too.
    """
    fake = FakeRapl(root)
    modes = (energy_mode, max_mode)
    for control in ("intel-rapl", *(("intel-rapl-mmio",) if mmio else ())):
        _write(root, f"/sys/devices/virtual/powercap/{control}/enabled", "1\n", 0o644)
        _link(root, f"/sys/devices/virtual/powercap/{control}/subsystem", "../../../../class/powercap")
        _link(root, f"/sys/class/powercap/{control}", f"../../devices/virtual/powercap/{control}")
    for p in range(packages):
        top = f"intel-rapl/intel-rapl:{p:x}"
        _zone(root, fake, top, f"package-{p}", f"package-{p}", energy_uj, max_energy_range_uj, modes)
        for s, sub in enumerate(subzones):
            _zone(root, fake, f"{top}/intel-rapl:{p:x}:{s:x}", f"package-{p}.{sub}", sub, energy_uj // 3, max_energy_range_uj, modes)
    if psys:
        _zone(root, fake, f"intel-rapl/intel-rapl:{packages:x}", "psys", "psys", energy_uj * 2, max_energy_range_uj, modes)
    if mmio:
        _zone(root, fake, "intel-rapl-mmio/intel-rapl-mmio:0", "mmio:package-0", "package-0", energy_uj, max_energy_range_uj, modes)
    return fake


# --- Jetson ---------------------------------------------------------------------------------------------

NANO_RAILS = (("POM_5V_IN", 5072, 984), ("POM_5V_GPU", 5048, 0), ("POM_5V_CPU", 5056, 166))
ORIN_NX = {"1-0040": (1, ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))}
AGX_ORIN = {"1-0040": (3, ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")), "1-0041": (2, ("NC", "VDDQ_VDD2_1V8AO", "NC"))}


def build_fake_jetson_iio_tree(root: Path, rails: Sequence[tuple[str, int, int]] = NANO_RAILS, bus: str = "6-0040") -> dict[str, Path]:
    """JetPack 4's ``ina3221x`` IIO device (Nano: bus 6); rails as (name, mV, mA); returns rail → in_powerN_input."""
    i2c = f"/sys/devices/7000c400.i2c/i2c-{bus.split('-', maxsplit=1)[0]}/{bus}"
    base = f"{i2c}/iio:device0"
    _link(root, f"/sys/bus/i2c/drivers/ina3221x/{bus}", f"../../../../devices/7000c400.i2c/i2c-{bus.split('-', maxsplit=1)[0]}/{bus}")
    _write(root, f"{base}/name", "ina3221x\n")
    _write(root, f"{base}/running_mode", "1\n", 0o644)
    power = {}
    for n, (rail, mv, ma) in enumerate(rails):
        _write(root, f"{base}/rail_name_{n}", f"{rail}\n")
        _write(root, f"{base}/in_voltage{n}_input", f"{mv}\n")
        _write(root, f"{base}/in_current{n}_input", f"{ma}\n")
        power[rail] = _write(root, f"{base}/in_power{n}_input", f"{mv * ma // 1000}\n")
        _write(root, f"{base}/in_current{n}_trigger_input", f"{ma}\n")
        _write(root, f"{base}/in_power{n}_trigger_input", f"{mv * ma // 1000}\n")
        _write(root, f"{base}/crit_current_limit_{n}", f"{4000 if n == 0 else 3000} ma\n", 0o644)
        _write(root, f"{base}/warn_current_limit_{n}", f"{3500 if n == 0 else 2500} ma\n", 0o644)
        _write(root, f"{base}/ui_input_{n}", f"{mv} {ma}\n")
    return power


def build_fake_jetson_hwmon_tree(
    root: Path,
    devices: Mapping[str, tuple[int, Sequence[str]]] = ORIN_NX,
    values: Mapping[str, tuple[int, int]] | None = None,
    update_interval_ms: int = 26,
) -> dict[str, tuple[Path, Path]]:
    """JetPack 5+ ``ina3221`` hwmon devices: bus-addr → (hwmon number, three channel labels); ``NC`` unconnected.

    ``values``: label → (mV, mA), default 5000 mV and 400 mA × channel. Returns label → (inN_input, currN_input).
    The default is an Orin NX (VDD_IN, VDD_CPU_GPU_CV, VDD_SOC); ``AGX_ORIN`` has hwmon3 and hwmon2 for 0x40
    and 0x41, and no input rail.
    """
    files = {}
    for device, (number, labels) in devices.items():
        i2c = f"devices/platform/bus@0/c240000.i2c/i2c-{device.split('-')[0]}/{device}"
        base = f"/sys/{i2c}/hwmon/hwmon{number}"
        _link(root, f"/sys/bus/i2c/drivers/ina3221/{device}", f"../../../../{i2c}")
        _link(root, f"/sys/class/hwmon/hwmon{number}", f"../../{i2c}/hwmon/hwmon{number}")
        _link(root, f"{base}/device", "../../../" + device)
        _write(root, f"{base}/name", "ina3221\n")
        _write(root, f"{base}/samples", "4\n", 0o644)
        _write(root, f"{base}/update_interval", f"{update_interval_ms}\n", 0o644)
        for n, label in enumerate(labels, 1):
            mv, ma = (values or {}).get(label, (5000, 1200 if n == 1 else 300))
            _write(root, f"{base}/in{n}_label", f"{label}\n")
            _write(root, f"{base}/in{n}_enable", "1\n", 0o644)
            _write(root, f"{base}/shunt{n}_resistor", "5000\n", 0o644)
            _write(root, f"{base}/curr{n}_crit", "20000\n", 0o644)
            _write(root, f"{base}/curr{n}_max", "10000\n", 0o644)
            _write(root, f"{base}/in{n + 3}_input", f"{ma * 5}\n")  # shunt µV = mA × 5 mΩ
            volt = _write(root, f"{base}/in{n}_input", f"{mv if label != 'NC' else 0}\n")
            curr = _write(root, f"{base}/curr{n}_input", f"{ma if label != 'NC' else 0}\n")
            files[label] = (volt, curr)
        _write(root, f"{base}/in7_label", "sum of shunt voltages\n")
        _write(root, f"{base}/in7_input", f"{sum(5 * 400 * n for n in range(1, 4))}\n")
        _write(root, f"{base}/curr4_input", "0\n")
    return files


def build_fake_tegrastats(root: Path, lines: Sequence[str]) -> Path:
    """An executable ``tegrastats`` under ``root`` that prints ``lines`` in a loop at ``--interval`` ms."""
    data = _write(root, "/usr/share/fake-tegrastats/lines", "".join(line.rstrip("\n") + "\n" for line in lines))
    body = (
        'ms=1000; [ "$1" = "--interval" ] && ms=$2\n'
        's=$(awk "BEGIN{print $ms/1000}")\n'
        f'while true; do while IFS= read -r line; do echo "$line"; sleep $s; done < {data}; done\n'
    )
    return _script(root, "/usr/bin/tegrastats", body)


def build_fake_jetson_tools(root: Path, mode: str = "MAXN", mode_id: int = 0) -> None:
    """``nvpmodel -q`` as on a Jetson: the mode's name, then its number."""
    _script(root, "/usr/sbin/nvpmodel", f'[ "$1" = "-q" ] && printf "NV Power Mode: {mode}\\n{mode_id}\\n"\n')


# --- INA219 / INA226 ------------------------------------------------------------------------------------


def build_fake_ina2xx_tree(
    root: Path, chip: str = "ina219", hwmon: int = 0, device: str = "1-0040", bus_mv: int = 5100, curr_ma: int = 800
) -> Path:
    """An external INA219/226 on the hwmon ``ina2xx`` driver; returns its ``power1_input`` (µW)."""
    i2c = f"devices/platform/soc/fe804000.i2c/i2c-{device.split('-', maxsplit=1)[0]}/{device}"
    base = f"/sys/{i2c}/hwmon/hwmon{hwmon}"
    _link(root, f"/sys/class/hwmon/hwmon{hwmon}", f"../../{i2c}/hwmon/hwmon{hwmon}")
    _link(root, f"{base}/device", "../../../" + device)
    _write(root, f"{base}/name", f"{chip}\n")
    _write(root, f"{base}/in0_input", f"{curr_ma // 10}\n")  # shunt mV over 0.1 Ω... in mV: mA × 0.1 Ω
    _write(root, f"{base}/in1_input", f"{bus_mv}\n")
    _write(root, f"{base}/curr1_input", f"{curr_ma}\n")
    _write(root, f"{base}/shunt_resistor", "100000\n", 0o644)
    if chip != "ina219":
        _write(root, f"{base}/update_interval", "35\n", 0o644)
    return _write(root, f"{base}/power1_input", f"{bus_mv * curr_ma}\n")


# --- Raspberry Pi 5 -------------------------------------------------------------------------------------

# Pi 5 Rev 1.0 under load: the reference's verbatim lines, the other rails filled in with the same
# padding and index scheme (current and volt indices differ, so rails must be paired by name).
PI5_PMIC_OUTPUT = """\
 3V7_WL_SW_A current(0)=0.09368929A
   3V3_SYS_A current(1)=0.05101059A
   1V8_SYS_A current(2)=0.17524660A
  DDR_VDD2_A current(3)=0.22543980A
  DDR_VDDQ_A current(4)=0.00000000A
   1V1_SYS_A current(5)=0.18643290A
   0V8_SW_A current(6)=0.36339680A
  VDD_CORE_A current(7)=6.22421000A
   3V3_DAC_A current(17)=0.00006105A
   3V3_ADC_A current(18)=0.00036630A
   0V8_AON_A current(16)=0.00447750A
      HDMI_A current(22)=0.02417580A
 3V7_WL_SW_V volt(8)=3.69977600V
   3V3_SYS_V volt(9)=3.31135000V
   1V8_SYS_V volt(10)=1.79926600V
  DDR_VDD2_V volt(11)=1.11172000V
  DDR_VDDQ_V volt(12)=0.60842720V
   1V1_SYS_V volt(13)=1.10622500V
   0V8_SW_V volt(14)=0.80183150V
  VDD_CORE_V volt(15)=0.86173300V
   3V3_DAC_V volt(20)=3.30402400V
   3V3_ADC_V volt(21)=3.30585600V
   0V8_AON_V volt(19)=0.79450550V
      HDMI_V volt(23)=5.13608000V
     EXT5V_V volt(24)=5.09066000V
      BATT_V volt(25)=0.00000000V
"""


def build_fake_vcgencmd(root: Path, pmic_output: str = PI5_PMIC_OUTPUT, throttled: str = "0x0") -> Path:
    """An executable ``vcgencmd`` under ``root`` answering ``pmic_read_adc`` and ``get_throttled``.

    The PMIC answer ends in the mailbox's NUL; rewrite ``usr/share/fake-vcgencmd/*`` to change the answers.
    """
    share = "/usr/share/fake-vcgencmd"
    _write(root, f"{share}/pmic_read_adc", pmic_output + "\x00", 0o644)
    _write(root, f"{share}/get_throttled", f"throttled={throttled}\n", 0o644)
    body = (
        f'case "$1" in\n  pmic_read_adc|get_throttled) cat "{root}{share}/$1" ;;\n'
        '  *) echo "error=2 error_msg=\\"Command not registered\\"" >&2; exit 255 ;;\nesac\n'
    )
    return _script(root, "/usr/bin/vcgencmd", body)
