"""``benchmarks/gpu_check.py --smoke`` runs end to end (simulator or GPU).

Device time is scarce (a few minutes in a session that is lent one), so the script that
measures the GPU figures must not first fail on a bug: this runs it at its tiny sizes.
"""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_gpu_check_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "gpu.json"
    rc = mod.main(["--smoke", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    res = json.loads(out.read_text())
    assert res["smoke"] is True
    assert res["agreement"] and all(v["ok"] for v in res["agreement"].values())
    assert not res["errors"], res["errors"]
    for key in ("dk1_site_updates_per_s", "cp_events_per_s",
                "mlp_gaussian_float64_unit_updates_per_s", "mlp_weights_matmul_flops",
                "cnn_unit_updates_per_s"):
        assert res["throughput"][key] > 0
    assert "agreement with the CPU" in text and "all OK" in text
