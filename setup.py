"""The one thing pyproject.toml cannot declare stably: the C sampler thread (harness.energy.native).

Optional: without a C compiler and Python's headers the install still succeeds, and the Python sampler thread
reads file-backed power sensors instead (the manifest's energy.sensors[].sampler says which ran).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "harness.energy._filesampler",
            sources=["harness/energy/_filesampler.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
