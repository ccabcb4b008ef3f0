"""Packages of the wheel: setuptools finds every package under each folder that pyproject.toml maps into `notellm`.

pyproject.toml alone cannot do this: `packages.find` names packages after their folders (`training.losses`), not
after the mapping (`notellm.training.losses`), so a subpackage listed by hand is one that can be forgotten.
"""

from setuptools import find_packages, setup

MAPPED = {"notellm.engine": "engine", "notellm.app": "app", "notellm.training": "training"}

setup(packages=["notellm", *MAPPED,
                *(f"{package}.{subpackage}" for package, folder in MAPPED.items() for subpackage in find_packages(folder))])
