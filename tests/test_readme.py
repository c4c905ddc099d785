"""The README's operator-support section is the output of scripts/support_table.py (registry +
exclusion list): regenerate it with `.venv/bin/python scripts/support_table.py` when ops change."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_support_table_is_current():
    spec = importlib.util.spec_from_file_location("support_table", ROOT / "scripts" / "support_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (ROOT / "README.md").read_text()
    assert mod.section() in readme, "README.md's support table is stale: run scripts/support_table.py"
