"""The generic name -> factory registry behind fusions, encoders and heads."""

from __future__ import annotations

from typing import Any

import pytest

from sweeper.errors import RegistryError, SweeperError
from sweeper.registry import Registry


def _widgets() -> Registry[Any]:
    widgets: Registry[Any] = Registry("widget")

    @widgets.register("plain", "takes only positional arguments")
    def plain(size: int) -> dict[str, Any]:
        return {"size": size}

    @widgets.register("knobbed", "has keyword-only hyperparameters")
    def knobbed(size: int, scale: float = 1.0, *, heads: int = 4, rank: int = 2, label: str) -> dict[str, Any]:
        return {"size": size, "scale": scale, "heads": heads, "rank": rank, "label": label}

    @widgets.register("open", "takes any keyword")
    def open_ended(size: int, **kwargs: Any) -> dict[str, Any]:
        return {"size": size, **kwargs}

    return widgets


def test_register_and_get() -> None:
    widgets = _widgets()
    entry = widgets.get("knobbed")
    assert entry.name == "knobbed"
    assert entry.description == "has keyword-only hyperparameters"
    assert "knobbed" in widgets and "missing" not in widgets
    assert widgets.names() == ["knobbed", "open", "plain"]
    assert [e.name for e in widgets] == widgets.names()


def test_register_returns_the_factory_unchanged() -> None:
    widgets: Registry[int] = Registry("number")

    def seven() -> int:
        return 7

    assert widgets.register("seven", "the number seven")(seven) is seven
    assert widgets.create("seven") == 7


def test_duplicate_name_raises_and_keeps_the_first() -> None:
    widgets = _widgets()
    with pytest.raises(RegistryError, match=r"^widget 'plain' is registered twice$"):
        widgets.register("plain", "again")(lambda size: "impostor")
    assert widgets.create("plain", 3) == {"size": 3}
    assert issubclass(RegistryError, SweeperError)


def test_unknown_name_lists_known_names() -> None:
    widgets = _widgets()
    with pytest.raises(RegistryError) as info:
        widgets.get("knobed")
    assert str(info.value) == "unknown widget 'knobed'; known: knobbed, open, plain"
    with pytest.raises(RegistryError, match="unknown widget 'nope'; known: knobbed, open, plain"):
        widgets.create("nope", 1)


def test_create_passes_arguments() -> None:
    widgets = _widgets()
    made = widgets.create("knobbed", 5, 0.5, heads=8, label="x")
    assert made == {"size": 5, "scale": 0.5, "heads": 8, "rank": 2, "label": "x"}


def test_create_drops_none_kwargs_so_defaults_apply() -> None:
    made = _widgets().create("knobbed", 5, heads=None, rank=None, label="x")
    assert (made["heads"], made["rank"]) == (4, 2)


def test_create_drops_kwargs_the_factory_does_not_take() -> None:
    assert _widgets().create("plain", 5, heads=8, rank=3, dropout=0.1) == {"size": 5}


def test_create_passes_everything_but_none_to_var_keyword() -> None:
    assert _widgets().create("open", 1, heads=8, rank=None) == {"size": 1, "heads": 8}


def test_hyperparameters_are_keyword_only_args_with_defaults() -> None:
    widgets = _widgets()
    # 'scale' has a default but is positional; 'label' is keyword-only without a default
    assert widgets.get("knobbed").hyperparameters == {"heads": 4, "rank": 2}
    assert widgets.get("plain").hyperparameters == {}
    assert widgets.get("open").hyperparameters == {}


def test_hyperparameters_of_a_class_factory() -> None:
    shapes: Registry[Any] = Registry("shape")

    @shapes.register("box", "a class")
    class Box:
        def __init__(self, side: int, *, depth: int = 3) -> None:
            self.side, self.depth = side, depth

    assert shapes.get("box").hyperparameters == {"depth": 3}
    box = shapes.create("box", 2, depth=None, colour="red")
    assert (box.side, box.depth) == (2, 3)


def test_create_passes_a_keyword_called_name() -> None:
    tags: Registry[str] = Registry("tag")

    @tags.register("named", "takes a keyword called name")
    def named(*, name: str = "anonymous") -> str:
        return name

    assert tags.create("named", name="given") == "given"  # type: ignore[misc]


def test_an_alias_finds_its_entry_and_a_registered_class_knows_its_name() -> None:
    widgets: Registry[Any] = Registry("widget")

    @widgets.register("gear", "a class", aliases=("cog",))
    class Gear:
        def __init__(self, *, teeth: int = 12, modality_names: list[str] | None = None) -> None:
            self.teeth = teeth

    assert Gear.name == "gear"  # type: ignore[attr-defined]  # written once, in the decorator
    assert widgets.get("cog") is widgets.get("gear") and "cog" in widgets
    assert isinstance(widgets.create("cog", teeth=3), Gear)
    assert widgets.names() == ["gear"] and widgets.names(aliases=True) == ["cog", "gear"]
    assert widgets.get("gear").hyperparameters == {"teeth": 12}  # modality_names comes from the data, not the user
    with pytest.raises(RegistryError, match="widget 'cog' is registered twice"):
        widgets.register("other", "takes a taken alias")(lambda: None)
        widgets.register("more", "x", aliases=("cog",))(lambda: None)


def test_a_parametrised_entry_answers_to_its_name_with_a_value() -> None:
    widgets = _widgets()

    @widgets.register("only", "one part", argument="part")
    def only(name: str) -> str:
        return name.partition(":")[2]

    assert widgets.get("only:wheel").name == "only" and "only:wheel" in widgets
    assert widgets.create("only:wheel", "only:wheel") == "wheel"
    assert (
        "only" in widgets and "only:" not in widgets and "plain:wheel" not in widgets
    )  # value needed; plain takes none
    assert widgets.names() == ["knobbed", "only:<part>", "open", "plain"]  # as a spec writes it
    with pytest.raises(RegistryError, match="unknown widget 'plain:x'; known: knobbed, only:<part>, open, plain"):
        widgets.get("plain:x")
