"""transformers for the frozen app: package metadata and sources, and only the model code the app runs.

- ``copy_metadata``: at import, transformers checks the installed versions of its dependencies
  (``dependency_versions_check``) through package metadata, which a frozen app has only if it is copied.
- ``pyz+py``: transformers reads its own ``.py`` files at run time (lazy module structure, ``inspect``).
- Every model package's ``__init__`` is collected, but the modules inside only for the models the app uses
  and those their code imports (``freeze_plan.transformers_models_needed``); the spec excludes the rest by name.
"""

from pathlib import Path

import freeze_plan  # on sys.path: the spec puts packaging/ there
from PyInstaller.compat import importlib_metadata
from PyInstaller.utils.hooks import (
    collect_submodules,
    copy_metadata,
    get_module_attribute,
    get_package_paths,
    is_module_satisfies,
)

module_collection_mode = "pyz+py"

datas = []
for _name, _requirement in get_module_attribute("transformers.dependency_versions_table", "deps").items():
    if is_module_satisfies(_requirement):
        try:
            datas += copy_metadata(_name)
        except importlib_metadata.PackageNotFoundError:  # satisfied yet without metadata (a stdlib backport name)
            continue
datas += copy_metadata("transformers")

_models_dir = Path(get_package_paths("transformers")[1]) / "models"
hiddenimports = [f"transformers.models.{name}" for name in freeze_plan.transformers_model_packages(_models_dir)]
# the needed models' modules are imported by name through their lazy package, which no import scan sees; their
# ``modular_*`` (code-generation sources) and ``convert_*`` (weight conversion scripts) are never run
for _name in freeze_plan.transformers_models_needed(_models_dir):
    hiddenimports += collect_submodules(
        f"transformers.models.{_name}",
        filter=lambda mod: not mod.rsplit(".", 1)[-1].startswith(("modular_", "convert_")),
    )
