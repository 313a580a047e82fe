"""scoped_env: a variable set for a block only — put back when the block ends, also when it raises."""

from __future__ import annotations

import os

import pytest

from core.env_scope import scoped_env

NAME = "R1OMNI_TEST_SCOPED"


def test_an_unset_variable_is_unset_again(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    with scoped_env(NAME, "inside"):
        assert os.environ[NAME] == "inside"
    assert NAME not in os.environ


def test_a_set_variable_gets_its_value_back_even_when_the_block_raises(monkeypatch):
    monkeypatch.setenv(NAME, "before")
    with pytest.raises(RuntimeError), scoped_env(NAME, "inside"):
        assert os.environ[NAME] == "inside"
        raise RuntimeError("boom")
    assert os.environ[NAME] == "before"
