"""Shipped checkpoints: data/weights/NAME.weights.h5 beside NAME.json, its provenance."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.paths import weights_dir

if TYPE_CHECKING:
    import keras


def architecture(model: keras.Model) -> dict[str, Any]:
    """What must match for weights to load: the weight names' shapes and the parameter count."""
    return {
        "model_name": model.name,
        "params": int(model.count_params()),
        "weight_shapes": [list(w.shape) for w in model.weights],
    }


def save_checkpoint(model: keras.Model, name: str, builder: str, builder_kwargs: dict[str, Any],
                    provenance: dict[str, Any], directory: Path | None = None) -> Path:
    """Write NAME.weights.h5 and NAME.json (how to rebuild the model, and how the weights were made)."""
    directory = Path(directory or weights_dir())
    directory.mkdir(parents=True, exist_ok=True)
    model.save_weights(directory / f"{name}.weights.h5")
    record = {"name": name, "builder": builder, "builder_kwargs": builder_kwargs,
              "architecture": architecture(model), **provenance}
    path = directory / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_provenance(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The provenance record of a shipped checkpoint."""
    directory = Path(directory or weights_dir())
    path = directory / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.json"))
        raise FileNotFoundError(f"name={name!r}: no {path.name} in {directory.name}/; expected one of {known}")
    return json.loads(path.read_text())


def build_from_provenance(record: dict[str, Any]) -> keras.Model:
    """Rebuild the untrained model that a provenance record describes (builder is 'module:function')."""
    module, function = record["builder"].split(":")
    return getattr(importlib.import_module(module), function)(**record["builder_kwargs"])


def load_checkpoint(name: str, model: keras.Model | None = None, directory: Path | None = None) -> keras.Model:
    """Load a shipped checkpoint into model (or into a model rebuilt from its provenance) and return it.

    Fails with a clear message when the model's architecture is not the checkpoint's.
    """
    directory = Path(directory or weights_dir())
    record = read_provenance(name, directory)
    model = model if model is not None else build_from_provenance(record)
    want, have = record["architecture"], architecture(model)
    if want["weight_shapes"] != have["weight_shapes"]:
        raise ValueError(
            f"model {have['model_name']!r} ({have['params']:,} parameters, {len(have['weight_shapes'])} weights) "
            f"does not match checkpoint {name!r}: expected {want['model_name']!r} with {want['params']:,} "
            f"parameters, {len(want['weight_shapes'])} weights, built by {record['builder']}"
            f"(**{record['builder_kwargs']})"
        )
    model.load_weights(directory / f"{name}.weights.h5")
    return model
