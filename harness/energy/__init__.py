"""Energy sensors (RAPL, NVML, Jetson INA3221, INA219/226, Pi 5 PMIC, tegrastats) and per-span attribution.

``EnergyMeter`` (harness.energy.meter) is what the runner uses; readers live one per module behind
``harness.energy.base.Sensor``; fakes for tests in ``harness.testing`` (re-exported by harness.testing).
See docs/energy.md.
"""
