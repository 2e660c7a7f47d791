"""The tutorial notebook's README line installs what opens it: an extra with Jupyter."""

import os

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10
    import tomli as tomllib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_notebook_extra_brings_jupyter_and_the_readme_names_it():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    names = {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in extras["notebook"]}
    assert {"jupyterlab", "ipykernel"} <= names
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert 'pip install -e ".[notebook]"' in f.read()
