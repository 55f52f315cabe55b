"""docs/config.md lists every config key the code knows, with its default."""
import os
import subprocess

from conftest import ROOT, binary


def test_every_key_is_documented_with_its_default():
    keys = subprocess.run([binary("tradingd"), "--config-keys"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    doc = open(os.path.join(ROOT, "docs", "config.md")).read()
    assert len(keys) > 40
    missing = []
    for line in keys:
        path, typ, default, _range, _meaning = line.split("\t")
        if typ == "object":
            assert f"### `{path}`" in doc, path
            continue
        want = f"| `{path}` | {typ} | " + (f"`{default}`" if default else "(none)")
        if want not in doc:
            missing.append(want)
    assert not missing, "docs/config.md lacks:\n" + "\n".join(missing)


def test_example_config_is_valid():
    res = subprocess.run([binary("tradingd"), "-c", os.path.join(ROOT, "etc", "tradingd.json"),
                          "--check-config"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout
