from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "power_crt.yaml"


@pytest.fixture
def write_plan(tmp_path):
    """Write the example power plan with ``power:`` keys replaced; return its path."""

    def write(**power):
        cfg = yaml.safe_load(EXAMPLE.read_text())
        for key, value in power.items():
            if value is None:
                cfg["power"].pop(key, None)
            else:
                cfg["power"][key] = value
        path = tmp_path / "plan.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return write
