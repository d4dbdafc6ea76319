"""Kept so the command earlier model cards give still works: the recipe now lives in harness/models/recipes/nmt.

python models/recipes/nmt/reproduce.py ...   is   python -m harness.models.recipes.nmt.reproduce ...
"""

import runpy

runpy.run_module("harness.models.recipes.nmt.reproduce", run_name="__main__", alter_sys=True)
