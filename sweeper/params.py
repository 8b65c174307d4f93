"""The parameter types of a search space: choice, int, float (optionally log-scale) and fixed, each with ``when:``.

A parameter with ``when: {fusion: [cross_attention]}`` is sampled only in trials where ``fusion`` took one of the
listed values, which ``sweeper.tune.space`` turns into an Optuna define-by-run space.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sweeper.schema import StrictModel

Scalar = str | int | float | bool


class _Param(StrictModel):
    # Sample this parameter only when every named parameter took one of the listed values (define-by-run).
    when: dict[str, list[Scalar]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _when_lists(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("when"), dict):
            data = {**data, "when": {k: v if isinstance(v, list) else [v] for k, v in data["when"].items()}}
        return data


class ChoiceParam(_Param):
    type: Literal["choice"]
    values: list[Scalar]

    @model_validator(mode="after")
    def _non_empty(self) -> ChoiceParam:
        if not self.values:
            raise ValueError("empty choice: values must list at least one value")
        return self


class IntParam(_Param):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _valid_range(self) -> IntParam:
        _check_range(self.low, self.high, self.log, allow_equal=True)
        return self


class FloatParam(_Param):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _valid_range(self) -> FloatParam:
        _check_range(self.low, self.high, self.log, allow_equal=False)
        return self


class FixedParam(_Param):
    type: Literal["fixed"]
    value: Scalar


Param = Annotated[ChoiceParam | IntParam | FloatParam | FixedParam, Field(discriminator="type")]


def _check_range(low: float, high: float, log: bool, *, allow_equal: bool) -> None:
    if high < low or (high == low and not allow_equal):
        raise ValueError(f"empty range: low={low} must be below high={high}")
    if log and low <= 0:
        raise ValueError(f"a log-scale range needs low > 0, but got low={low}")
