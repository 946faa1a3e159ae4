"""Cross-building wheels from recipes (Pyodide's meta.yaml), checked like any other wheel.

>>> from omniwheel.build import load_recipe, build_recipes
"""

from omniwheel.build.graph import (
    BuildReport,
    MissingToolchainError,
    Outcome,
    build_order,
    build_recipes,
)
from omniwheel.build.recipe import Recipe, RecipeError, load_recipe, load_recipes
from omniwheel.build.runtime import PyodideRuntime

__all__ = [
    "BuildReport",
    "MissingToolchainError",
    "Outcome",
    "PyodideRuntime",
    "Recipe",
    "RecipeError",
    "build_order",
    "build_recipes",
    "load_recipe",
    "load_recipes",
]
