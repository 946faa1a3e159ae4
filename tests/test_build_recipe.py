"""Recipes load strictly: Pyodide's meta.yaml keys are accepted, anything else is named.

The fixtures are written here in our own words, shaped like the recipes in
Pyodide's package tree (a package from an sdist URL, a static library built
by a script, a package with patches and extra files, per-family overrides).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from omniwheel.build import RecipeError, build_order, load_recipe, load_recipes
from omniwheel.build.runtime import TEST_SCRIPT, wants_test
from omniwheel.errors import UsageError

SHA = "a" * 64


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name / "meta.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


PACKAGE = f"""\
    package:
      name: fastcrc
      version: "2.4"
      top-level:
        - fastcrc
    source:
      url: https://example.invalid/packages/fastcrc-2.4.tar.gz
      sha256: {SHA}
    build:
      cflags: |
        -O3
        -I$(WASM_LIBRARY_DIR)/include
      ldflags: -lz
      exports: requested
      backend-flags: setup-args=-Dsimd=false
    requirements:
      host:
        - zlib
      run:
        - numpy
    test:
      imports:
        - fastcrc
    about:
      home: https://example.invalid/fastcrc
      PyPI: https://example.invalid/project/fastcrc
      summary: CRC checksums, fast.
      license: MIT
    extra:
      recipe-maintainers:
        - someone
    """

LIBRARY = f"""\
    package:
      name: zlib
      version: 1.3.1
      tag:
        - library
    source:
      url: https://example.invalid/zlib-1.3.1.tar.gz
      sha256: {SHA}
    build:
      type: static_library
      script: |
        emconfigure ./configure --prefix=${{WASM_LIBRARY_DIR}}
        emmake make install
    """


def test_pyodide_shaped_package_recipe_loads(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "fastcrc", PACKAGE).parent)
    assert (recipe.name, recipe.version) == ("fastcrc", "2.4")
    assert recipe.package.top_level == ("fastcrc",)
    assert recipe.source.url == "https://example.invalid/packages/fastcrc-2.4.tar.gz"
    assert recipe.build.exports == "requested"
    assert "-I$(WASM_LIBRARY_DIR)/include" in recipe.build.cflags
    assert recipe.build.backend_flags == "setup-args=-Dsimd=false"
    assert recipe.requirements.host == ("zlib",)
    assert recipe.requirements.run == ("numpy",)
    assert recipe.test.imports == ("fastcrc",)
    assert recipe.about.pypi == "https://example.invalid/project/fastcrc"
    assert recipe.build.type == "package" and not recipe.is_library


def test_static_library_recipe_loads(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "zlib", LIBRARY))
    assert recipe.is_library and recipe.build.type == "static_library"
    assert recipe.build.script is not None and "WASM_LIBRARY_DIR" in recipe.build.script


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("package:", "packages:", "'packages'"),
        ("  ldflags: -lz", "  ldflag: -lz", "'build/ldflag'"),
        ("  license: MIT", "  licence: MIT", "'about/licence'"),
        ("test:\n  imports:", "test:\n  import:", "'test/import'"),
        ("  host:", "  hosts:", "'requirements/hosts'"),
        ("  sha256:", "  md5:", "'source/md5'"),
    ],
)
def test_unknown_key_is_an_error_naming_key_and_file(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    text = textwrap.dedent(PACKAGE).replace(old, new, 1)
    assert text != textwrap.dedent(PACKAGE)
    path = write(tmp_path, "fastcrc", text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert str(path) in message and named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("package: {name: x, version: '1'}\nsource: {url: 'https://h.invalid/x.tar.gz'}",
         "needs 'source/sha256'"),
        (f"package: {{name: x, version: '1'}}\nsource: {{url: 'https://h.invalid/x.tar.gz', "
         f"sha256: {SHA}, path: src}}", "both 'url' and 'path'"),
        ("package: {name: x, version: '1'}", "needs a 'url'"),
        ("package: {name: x}\nsource: {path: src}", "missing required key 'package/version'"),
        (f"package: {{name: x, version: '1'}}\nsource: {{url: 'https://h.invalid/x.tar.gz', "
         f"sha256: {SHA}}}\nbuild: {{type: static_library, script: make, cflags: -O2}}",
         "'build/cflags' is not allowed in a static_library"),
        ("package: {name: x, version: '1'}\nsource: {path: src}\nbuild: {type: shared_library}",
         "needs 'build/script'"),
        ("package: {name: x, version: '1'}\nsource: {path: src}\nbuild: {type: wheel}",
         "'build/type' is 'wheel'"),
        ("package: {name: x, version: '1'}\nsource: {path: src, patches: [a.patch]}",
         "need an archive"),
        ("package: {name: x, version: '1'}\nsource: {path: src}\nbuild: {exports: everything}",
         "'build/exports'"),
        ("package: {name: x, version: '1'}\nsource: {path: src}\ntest: {imports: x}",
         "'test/imports' must be a list"),
        ("package: {name: x, version: '1'}\nsource: {sha256: 12, path: src}",
         "64 hexadecimal digits"),
        ("- just\n- a list\n", "a recipe is a mapping"),
        ("package: {name: [x], version: 1", "not valid YAML"),
    ],
)  # fmt: skip
def test_schema_rules_name_what_is_wrong(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "x" / "meta.yaml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert complaint in str(caught.value) and str(path) in str(caught.value)


OVERRIDES = f"""\
    package:
      name: fastcrc
      version: "2.4"
    source:
      url: https://example.invalid/fastcrc-2.4.tar.gz
      sha256: {SHA}
    build:
      cflags: -O2
    requirements:
      run: [numpy]
    extra:
      recipe-maintainers: [someone]
      omniwheel:
        platforms:
          ios:
            build:
              cflags: -O2 -mios-version-min=13.0
              ldflags: -framework Python
          android:
            requirements:
              run: []
    """


def test_per_family_overrides_replace_only_their_keys(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "fastcrc", OVERRIDES))
    ios = recipe.for_family("ios")
    assert ios.build.cflags == "-O2 -mios-version-min=13.0"
    assert ios.build.ldflags == "-framework Python"
    assert ios.requirements.run == ("numpy",)
    assert recipe.for_family("android").requirements.run == ()
    assert recipe.for_family("emscripten") is recipe
    assert recipe.build.cflags == "-O2"


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("      ios:", "      tvos:", "'extra/omniwheel/platforms/tvos'"),
        ("          ldflags:", "          ldflag:", "'extra/omniwheel/platforms/ios/build/ldflag'"),
        ("    platforms:", "    platform:", "'extra/omniwheel' holds only 'platforms'"),
    ],
)  # fmt: skip
def test_override_keys_are_checked_too(tmp_path: Path, old: str, new: str, named: str) -> None:
    text = textwrap.dedent(OVERRIDES).replace(old, new, 1)
    assert text != textwrap.dedent(OVERRIDES)
    path = write(tmp_path, "fastcrc", text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert named in str(caught.value) and str(path) in str(caught.value)


def tree(tmp_path: Path, recipes: dict[str, tuple[list[str], list[str]]]) -> Path:
    """Recipes named by key, each with (host, run) requirements, as local-path sources."""
    for name, (host, run) in recipes.items():
        write(
            tmp_path,
            name,
            f"package: {{name: {name}, version: '1.0'}}\nsource: {{path: src}}\n"
            f"requirements: {{host: {host}, run: {run}}}\n",
        )
    return tmp_path


def test_build_order_puts_dependencies_first(tmp_path: Path) -> None:
    recipes = load_recipes(
        tree(tmp_path, {"app": (["libfoo"], ["helper"]), "libfoo": ([], []),
                        "helper": ([], ["six"]), "other": ([], [])})
    )  # fmt: skip
    order = build_order(recipes)
    assert sorted(order) == ["app", "helper", "libfoo", "other"]
    assert order.index("libfoo") < order.index("app")
    assert order.index("helper") < order.index("app")
    # Selecting one package brings what it needs, and nothing else.
    assert sorted(build_order(recipes, ["App"])) == ["app", "helper", "libfoo"]


def test_build_order_refuses_cycles_unknown_names_and_missing_hosts(tmp_path: Path) -> None:
    recipes = load_recipes(tree(tmp_path / "a", {"x": ([], ["y"]), "y": ([], ["x"])}))
    # Roots are visited in name order, so the cycle is always told from x.
    with pytest.raises(RecipeError, match=r"cycle: x -> y -> x$"):
        build_order(recipes)
    with pytest.raises(RecipeError, match=r"cycle: y -> x -> y$"):
        build_order(recipes, ["y"])
    with pytest.raises(UsageError, match="no recipe named 'z'"):
        build_order(recipes, ["z"])
    hosted = load_recipes(tree(tmp_path / "b", {"x": (["libmissing"], [])}))
    with pytest.raises(RecipeError, match="host requirement 'libmissing' has no recipe"):
        build_order(hosted)


def test_missing_host_is_found_in_what_the_selection_pulls_in(tmp_path: Path) -> None:
    recipes = load_recipes(
        tree(tmp_path, {"app": ([], ["helper"]), "helper": (["libmissing"], []), "ok": ([], [])})
    )
    helper = recipes["helper"].path
    for selected in (["app"], ["helper"], []):
        with pytest.raises(RecipeError) as caught:
            build_order(recipes, selected)
        assert str(caught.value) == (
            f"{helper}: host requirement 'libmissing' has no recipe in the tree"
        )
    assert build_order(recipes, ["ok"]) == ["ok"]  # not needed by the selection: no error


def test_load_recipes_refuses_duplicates_and_empty_trees(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="no recipes found"):
        load_recipes(tmp_path)
    write(tmp_path, "one", "package: {name: same, version: '1'}\nsource: {path: s}\n")
    write(tmp_path, "two", "package: {name: same, version: '2'}\nsource: {path: s}\n")
    with pytest.raises(RecipeError, match="'same' is also defined by"):
        load_recipes(tmp_path)


def test_load_recipes_compares_names_canonically(tmp_path: Path) -> None:
    first = write(tmp_path, "a", "package: {name: Foo_Bar, version: '1'}\nsource: {path: s}\n")
    second = write(tmp_path, "b", "package: {name: foo-bar, version: '2'}\nsource: {path: s}\n")
    with pytest.raises(RecipeError) as caught:
        load_recipes(tmp_path)
    assert str(caught.value) == (
        f"{second}: package 'foo-bar' is also defined by {first} as 'Foo_Bar'"
    )
    second.unlink()
    assert list(load_recipes(tmp_path)) == ["Foo_Bar"]  # the name is kept as spelled


def test_wants_test_counts_imports_or_the_test_script(tmp_path: Path) -> None:
    source = "source: {path: s}\n"
    imports = write(tmp_path, "a", f"package: {{name: a, version: '1'}}\n{source}"
                    "test: {imports: [a]}\n")  # fmt: skip
    plain = write(tmp_path, "b", f"package: {{name: b, version: '1'}}\n{source}")
    assert wants_test(load_recipe(imports))
    assert not wants_test(load_recipe(plain))
    (plain.parent / TEST_SCRIPT).write_text("import b\n")
    assert wants_test(load_recipe(plain))
