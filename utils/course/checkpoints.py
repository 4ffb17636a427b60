"""Shipped checkpoints: data/weights/NAME.weights.h5 beside NAME.json, its provenance."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.course.checks import one_of
from utils.course.paths import scratch_dir, weights_dir, write_atomically

if TYPE_CHECKING:
    import keras


def start_leg(name: str, command: str, before: dict[str, Any], continuing: bool,
              directory: Path | None = None) -> tuple[Path, dict[str, Any], float]:
    """The resume file of a training leg, what the leg's provenance starts from, and its seconds so far.

    The resume file (`utils.nn.training.train(state=)`: the weights and the optimizer's state after each
    epoch) lives in .scratch/resume/, apart from the shipped checkpoint, which leaves the optimizer's state
    out. A new leg removes an earlier leg's resume file and writes its own start beside it (the command and
    the provenance before it). continuing (`--continue`): the stopped leg's start is read back, the same
    command is required, and the seconds from the leg's start to its last saved epoch are returned, so that
    its wall time goes on.
    Returns (resume file, provenance before the leg, seconds already trained in it).
    """
    folder = Path(directory or scratch_dir() / "resume")
    state, start = folder / f"{name}.weights.h5", folder / f"{name}.leg.json"
    if not continuing:
        state.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(start, json.dumps({"command": command, "before": before}, default=_json_value) + "\n")
        return state, before, 0.0
    if not (state.exists() and start.exists()):
        raise ValueError(f"--continue: no stopped run of {name!r} to continue ({state} missing): start it "
                         "without --continue")
    leg = json.loads(start.read_text())
    if leg["command"] != command:
        raise ValueError(f"--continue: expected the stopped run's own command, {leg['command']!r}; got {command!r}")
    # from the leg's start to its last saved epoch
    return state, leg["before"], max(state.stat().st_mtime - start.stat().st_mtime, 0.0)


def begin_leg(name: str, model: keras.Model, command: str, before: dict[str, Any], *, resume: bool,
              continuing: bool) -> tuple[Path, dict[str, Any], float]:
    """A training command's start: with --resume (a new leg) the checkpoint's weights and provenance, then
    `start_leg`. With --continue the resume file holds the weights, and the checkpoint is not read.

    before: the provenance of no earlier leg (the command's own fields at zero). Returns `start_leg`'s
    (resume file, provenance before the leg, seconds already trained in it).
    """
    if resume and not continuing:
        before = read_provenance(name)
        load_checkpoint(name, model)
        print(f"resuming {name} after {before['epochs']} epochs: {before['command']}", flush=True)
    return start_leg(name, command, before, continuing)


def in_float32(model: keras.Model, builder: str, builder_kwargs: dict[str, Any]) -> keras.Model:
    """The model itself when it computes in float32; after a mixed-precision run (`--precision`), the same
    weights in a float32 model built anew, with float32 the policy again, so that it is scored as the
    notebooks use the checkpoint."""
    import keras

    if keras.config.dtype_policy().name == "float32":
        return model
    keras.config.set_dtype_policy("float32")
    twin = build_from_provenance({"builder": builder, "builder_kwargs": builder_kwargs})
    twin.set_weights(model.get_weights())
    return twin


def finish_leg(state: Path) -> None:
    """Remove a leg's resume file and its start once the leg has run all its epochs: nothing is left to continue."""
    state = Path(state)
    state.unlink(missing_ok=True)
    state.with_name(state.name.replace(".weights.h5", ".leg.json")).unlink(missing_ok=True)


def architecture(model: keras.Model) -> dict[str, Any]:
    """What must match for weights to load: the weight names' shapes and the parameter count."""
    return {
        "model_name": model.name,
        "params": int(model.count_params()),
        "weight_shapes": [list(w.shape) for w in model.weights],
    }


def _json_value(value: Any) -> Any:
    """NumPy scalars and arrays as plain numbers and lists, for json.dumps; anything else is refused."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{value!r} of type {type(value).__name__}: expected numbers, strings, lists and dicts")


def drop_optimizer_state(weights: Path) -> None:
    """Rewrite a .weights.h5 file without the optimizer's variables (Adam's two moments: about two thirds of it).

    The model's weights are copied unchanged; a model that is not compiled loads the file as before.
    """
    import h5py

    weights = Path(weights)
    tmp = weights.with_name(f".{weights.name}.lean")
    try:
        with h5py.File(weights, "r") as source, h5py.File(tmp, "w") as out:
            for key, value in source.attrs.items():
                out.attrs[key] = value
            for key in source:
                if key != "optimizer":
                    source.copy(source[key], out, name=key)
        os.replace(tmp, weights)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(model: keras.Model, name: str, builder: str, builder_kwargs: dict[str, Any],
                    provenance: dict[str, Any], directory: Path | None = None, optimizer_state: bool = False) -> Path:
    """Write NAME.weights.h5 and NAME.json (how to rebuild the model, and how the weights were made).

    optimizer_state: keep the optimizer's variables (Adam's two moments: the file three times the size).
    The default leaves them out: the training commands' --resume loads the weights into a model that is
    compiled afterwards, with a fresh optimizer and schedule, so nothing reads them.
    The record is serialised before anything is written, and each file is written to a temporary
    name and then renamed over the old one: a failed save leaves the previous checkpoint as it was.
    """
    one_of(optimizer_state, "optimizer_state", (True, False))
    if builder not in builders():
        raise ValueError(f"builder={builder!r}: expected one of {sorted(builders())}")
    record = {"name": name, "builder": builder, "builder_kwargs": builder_kwargs,
              "architecture": architecture(model), **provenance}
    try:
        text = json.dumps(record, indent=2, default=_json_value) + "\n"
    except (TypeError, ValueError) as err:
        raise ValueError(f"the provenance of checkpoint {name!r} cannot be written as JSON: {err}") from None
    directory = Path(directory or weights_dir())
    directory.mkdir(parents=True, exist_ok=True)
    weights, path = directory / f"{name}.weights.h5", directory / f"{name}.json"
    tmp_weights, tmp_json = directory / f".{name}.partial.weights.h5", directory / f".{name}.partial.json"
    try:
        model.save_weights(tmp_weights)
        if not optimizer_state:
            drop_optimizer_state(tmp_weights)
        tmp_json.write_text(text)
        os.replace(tmp_weights, weights)
        os.replace(tmp_json, path)
    finally:
        for tmp in (tmp_weights, tmp_json):
            tmp.unlink(missing_ok=True)
    return path


def read_provenance(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The provenance record of a shipped checkpoint."""
    directory = Path(directory or weights_dir())
    path = directory / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.json"))
        raise FileNotFoundError(f"name={name!r}: no {path.name} in {directory.name}/; expected one of {known}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}): expected the provenance record that "
                         "save_checkpoint writes") from None


def planned_epochs(record: dict[str, Any]) -> int | None:
    """The epochs a checkpoint's runs planned, all legs together: its `epochs_planned` where the training command
    recorded one, else the sum of `--epochs N` over the legs of its recorded command (a leg with `--evaluate-only`
    plans none); None where a leg names no --epochs. Compare with record["epochs"] (done): a run that a time limit
    (`--minutes`) stopped has done fewer (COURSE.md, Evidence: equal budgets)."""
    import re

    if record.get("epochs_planned") is not None:
        return int(record["epochs_planned"])
    total = 0
    for leg in (record.get("command") or "").split(" && "):
        if "--evaluate-only" in leg.split():
            continue
        found = re.search(r"--epochs[ =](\d+)", leg)
        if found is None:
            return None
        total += int(found.group(1))
    return total


def next_plan(before: dict[str, Any], epochs: int, evaluate_only: bool = False) -> int:
    """`epochs_planned` after a leg that plans `epochs` more (none when it only evaluates): what the legs before it
    planned (`planned_epochs`; what they did where unknown) plus this leg's."""
    earlier = planned_epochs(before) if before.get("command") else 0
    return (before.get("epochs", 0) if earlier is None else earlier) + (0 if evaluate_only else epochs)


def builders() -> dict[str, Callable[..., keras.Model]]:
    """The model builders a checkpoint may name: a fixed table, so that a data file never chooses code to run."""
    from utils.denoising import applications
    from utils.denoising.models import dncnn, drunet, lecture_autoencoder
    from utils.detection.localizer import classify_and_localize
    from utils.detection.rcnn import faster_rcnn, mask_rcnn
    from utils.detection.single_shot import ssd_model, yolo_model
    from utils.nn.deep_stack import deep_stack
    from utils.segmentation import deepbv, deepmouse
    from utils.segmentation.unet import unet
    from utils.segmentation.vnet import vnet
    from utils.tracking.tracknet import tracknet

    return {"utils.denoising.models:dncnn": dncnn, "utils.denoising.models:drunet": drunet,
            "utils.denoising.models:lecture_autoencoder": lecture_autoencoder,
            **{f"utils.denoising.applications:{f}": getattr(applications, f)
               for f in ("completion_net", "super_resolution_net", "codec", "feature_autoencoder")},
            "utils.detection.localizer:classify_and_localize": classify_and_localize,
            "utils.detection.rcnn:faster_rcnn": faster_rcnn, "utils.detection.rcnn:mask_rcnn": mask_rcnn,
            "utils.detection.single_shot:ssd_model": ssd_model, "utils.detection.single_shot:yolo_model": yolo_model,
            "utils.nn.deep_stack:deep_stack": deep_stack,
            "utils.tracking.tracknet:tracknet": tracknet, "utils.segmentation.vnet:vnet": vnet,
            "utils.segmentation.unet:unet": unet, "utils.segmentation.deepbv:localizer": deepbv.localizer,
            "utils.segmentation.deepbv:segmenter": deepbv.segmenter,
            "utils.segmentation.deepmouse:coarse_net": deepmouse.coarse_net,
            "utils.segmentation.deepmouse:refine_net": deepmouse.refine_net,
            "utils.segmentation.deepmouse:end_to_end": deepmouse.end_to_end}


def build_from_provenance(record: dict[str, Any]) -> keras.Model:
    """Rebuild the untrained model that a provenance record describes, through the table of `builders()`."""
    known = builders()
    name, kwargs = record.get("builder"), record.get("builder_kwargs")
    if name not in known:
        raise ValueError(f"builder={name!r} in checkpoint {record.get('name')!r}: expected one of {sorted(known)}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ValueError(f"builder_kwargs={kwargs!r} in checkpoint {record.get('name')!r}: expected a dict of "
                         "keyword arguments")
    return known[name](**kwargs)


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
    weights = directory / f"{name}.weights.h5"
    try:
        model.load_weights(weights)
    except (OSError, ValueError) as err:
        raise ValueError(f"{weights} could not be loaded ({type(err).__name__}: {err}): expected the weights file "
                         "that save_checkpoint writes beside its JSON") from None
    return model


def save_every_epoch(name: str, builder: str, builder_kwargs: dict[str, Any], provenance: Callable[[int], dict],
                     history: dict[str, list[float]], epochs: int):
    """A Keras callback that logs each epoch's losses into history, prints them and saves the checkpoint, so that a
    stopped run leaves its weights so far. provenance(epochs_run) gives the record; the model logs `trackers`."""
    import time

    import keras

    class SaveEveryEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t0 = time.time()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            model = self.model
            for key, value in (logs or {}).items():
                if key in model.trackers:
                    history.setdefault(key, []).append(round(float(value), 5))
            losses = ", ".join(f"{k} {history[k][-1]:.4f}" for k in ("loss", *model.loss_names))
            print(f"epoch {epoch + 1}/{epochs}: {losses}; {(time.time() - self.t0) / 60:.1f} min", flush=True)
            save_checkpoint(model, name, builder, builder_kwargs, provenance(epoch + 1))

    return SaveEveryEpoch()


def train_and_save(model: keras.Model, data: Any, name: str, builder: str, builder_kwargs: dict[str, Any],
                   provenance: Callable[[int], dict], history: dict[str, list[float]], *, epochs: int,
                   learning_rate: float, minutes: float | None, evaluate: Callable[[keras.Model], dict],
                   jit_compile: bool | str = "auto") -> dict:
    """The detectors' and trackers' training run: `utils.nn.training.train` on their joint losses (Adam, cosine
    decay, gradients clipped at norm 5), saved after every epoch, then evaluated and saved with the final metrics.

    data None: no training, only the evaluation of the weights as they are (added to the provenance).
    After a mixed-precision run the evaluation and the saved checkpoint are in float32 (`in_float32`).
    """
    from utils.nn.training import train

    epochs_run = 0
    if data is not None:
        saver = save_every_epoch(name, builder, builder_kwargs, provenance, history, epochs)
        epochs_run = train(model, data, loss=None, epochs=epochs, learning_rate=learning_rate, alpha=0.01,
                           clipnorm=5.0, callbacks=[saver], max_seconds=minutes * 60 if minutes else None,
                           jit_compile=jit_compile).epochs
    model = in_float32(model, builder, builder_kwargs)
    record = provenance(epochs_run)
    record["final_metrics"] = evaluate(model)
    save_checkpoint(model, name, builder, builder_kwargs, record)
    return record

