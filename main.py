"""llmc from a checkout: `python main.py` runs this checkout's `modules/` as the `llmc` package."""
import importlib.util
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent / "modules"


def load_checkout_package() -> None:
    """Import `modules/` under the name the wheel installs it as, so relative imports resolve."""
    spec = importlib.util.spec_from_file_location(
        "llmc", PACKAGE_DIR / "__init__.py", submodule_search_locations=[str(PACKAGE_DIR)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["llmc"] = package
    spec.loader.exec_module(package)


if __name__ == "__main__":
    load_checkout_package()
    from llmc.cli.CommandLine import run
    run()
