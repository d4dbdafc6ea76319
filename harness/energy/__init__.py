"""Energy sensors (RAPL, NVML, Jetson INA3221, INA219/226, Pi 5 PMIC, tegrastats) and per-span attribution.

``EnergyMeter`` (harness.energy.meter) is what the runner uses; readers live one per module behind
``harness.energy.base.Sensor``; fake sensor trees and replay sensors for tests are in ``harness.testing``.
See docs/energy.md.
"""
