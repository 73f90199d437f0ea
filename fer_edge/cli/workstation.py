"""Workstation commands (train, evaluate, predict, demo): each imports TensorFlow only when it runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fer_edge.cli._common import FiniteFloatRange, OutputFile, format_table, load_workstation
from fer_edge.cli.device import metrics_table
from fer_edge.files import write_json
from fer_edge.metadata import TTA_MODES

DATA_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@click.command()
@click.argument("data", type=DATA_DIR)
@click.option("--out", "run_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder for checkpoints, history and the final model.")
@click.option("--arch", default="paper_cnn", show_default=True, help="Architecture from the model registry.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Global batch size (split across replicas with --distribute).")
@click.option("--image-size", default=64, show_default=True, type=click.IntRange(min=8))
@click.option("--color-mode", type=click.Choice(["rgb", "grayscale"]), default="rgb", show_default=True)
@click.option("--lr", "learning_rate", default=1e-3, show_default=True, type=FiniteFloatRange(min=0, min_open=True))
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True,
              help="cosine: decay to 1% of --lr over the run.")
@click.option("--seed", default=42, show_default=True)
@click.option("--augment", type=click.Choice(["full", "flip", "none"]), default="full", show_default=True,
              help="Training augmentation: full (flip, shift, rotation, zoom and brightness), flip alone, or none.")
@click.option("--no-augment", "augment", flag_value="none", help="Same as --augment none.")
@click.option("--class-weights/--no-class-weights", default=False, show_default=True,
              help="Weight the loss by inverse class frequency.")
@click.option("--label-smoothing", default=0.0, show_default=True, type=FiniteFloatRange(0, 0.5))
@click.option("--early-stopping", default=0, show_default=True, type=click.IntRange(min=0),
              help="Patience in epochs on val accuracy (0: off).")
@click.option("--val-fraction", default=0.2, show_default=True, type=FiniteFloatRange(0, 0.9))
@click.option("--test-fraction", default=0.0, show_default=True, type=FiniteFloatRange(0, 0.9))
@click.option("--max-per-class", default=0, show_default=True, type=click.IntRange(min=0),
              help="Read at most N training images per class (0: all).")
@click.option("--label-mode", type=click.Choice(["majority", "probability"]), default="majority", show_default=True,
              help="Vote-labelled data (FER+ label.csv): majority labels, or vote shares as soft targets.")
@click.option("--blend-labels", type=DATA_DIR, default=None,
              help="ImageFolder of the same faces (e.g. FER2013) whose labels are blended into the targets.")
@click.option("--blend-weight", default=0.4, show_default=True,
              type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
              help="Weight of the --blend-labels label in each matched face's target.")
@click.option("--aux-labels", type=DATA_DIR, default=None,
              help="Dataset of the same faces (e.g. FER2013 with train/ and val/) whose labels train a second "
                   "head; fuse the heads with `fer-edge fuse-heads`.")
@click.option("--aux-loss-weight", default=1.0, show_default=True, type=FiniteFloatRange(0, min_open=True),
              help="Weight of the second head's loss.")
@click.option("--aux-class-weights", default=0.0, show_default=True, type=FiniteFloatRange(0, 2),
              help="Weight the second head's loss on each training face by the inverse frequency of its label to "
                   "this power: 0 off, 1 balanced, 0.5 halfway.")
@click.option("--teacher", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A trained .keras model (repeat for an ensemble: their mean) whose probabilities on the training "
                   "faces, mirror-averaged, are distilled into the targets; a heads.keras also teaches the second head.")
@click.option("--teacher-weight", default=0.5, show_default=True, type=FiniteFloatRange(0, 1, min_open=True),
              help="Weight of the teacher's probabilities in each training target.")
@click.option("--teacher-temperature", default=1.0, show_default=True, type=FiniteFloatRange(0, min_open=True),
              help="Soften the teacher's probabilities: softmax(log p / T).")
@click.option("--teacher-heads", type=click.Choice(["both", "primary", "second"]), default="both", show_default=True,
              help="Which of the student's heads the teachers teach (second: the --aux-labels head alone).")
@click.option("--distribute", type=click.Choice(["none", "mirrored", "multiworker"]), default="none",
              show_default=True, help="mirrored: all local GPUs; multiworker: machines in TF_CONFIG.")
@click.option("--init-from", default="", help="Start from the weights of this .keras model (fine-tuning).")
@click.option("--ema", default=0.0, show_default=True, type=FiniteFloatRange(0, 1, max_open=True),
              help="Validate and save an exponential moving average of the weights with this momentum "
                   "(0.999: about the last 1,000 steps); 0 disables it.")
@click.option("--mixup", default=0.0, show_default=True, type=FiniteFloatRange(0, 10),
              help="Mix training faces and their targets in pairs, lambda ~ Beta(ALPHA, ALPHA) per face "
                   "(0.2 is usual); 0 disables it.")
@click.option("--erasing", default=0.0, show_default=True, type=FiniteFloatRange(0, 1),
              help="Hide a random rectangle (2-25%% of the face) of each training face under noise with this "
                   "probability (random erasing; 0.5 is usual); 0 disables it.")
@click.option("--best-by", type=click.Choice(["primary", "heads"]), default="primary", show_default=True,
              help="With --aux-labels, what picks the best epoch: the first head's val accuracy, or the mean of "
                   "both heads' (the fused model needs both).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out from its last epoch.")
def train(data: Path, run_dir: Path, resume: bool, **options) -> None:
    """Train a model on an ImageFolder DATA (`DATA/<class>/*` or `DATA/{train,val,test}/<class>/*`).

    Example: fer-edge train ../shared/data/fer2013 --out runs/paper --epochs 30
    """
    training = load_workstation("train.training")
    options["blend_labels"] = str(options["blend_labels"] or "")
    options["aux_labels"] = str(options["aux_labels"] or "")
    result = training.train(data, run_dir, training.TrainOptions(**options), resume=resume)
    two_heads = bool(options["aux_labels"])
    click.echo(best_epoch_text(result.best_epoch, result.best_val_accuracy, two_heads,
                               both_heads=two_heads and options["best_by"] == "heads"))
    click.echo(f"training throughput: {throughput_text(result.train_images_per_second)}")
    if result.skipped_files:
        click.echo(f"skipped {result.skipped_files} unreadable file(s); see the warnings above")
    click.echo(f"model: {result.model_path}")


def best_epoch_text(epoch: int, accuracy: float, two_heads: bool, both_heads: bool = False) -> str:
    """The best epoch for people; with two heads, saying whose accuracy it is (the first head's, or both heads')."""
    text = f"best epoch {epoch}: val accuracy {accuracy:.4f}"
    if both_heads:
        text += (" (the mean of both heads' accuracies, without test-time augmentation; `fer-edge fuse-heads` "
                 "scores the fused model on both label sets)")
    elif two_heads:
        text += (" (the first head alone, without test-time augmentation; `fer-edge fuse-heads` scores the "
                 "fused model on both label sets)")
    return text


def throughput_text(images_per_second: float) -> str:
    """Training speed for people: whole numbers, three significant digits below 100 (a toy run, 0.4)."""
    if images_per_second <= 0:
        return "not measured (no epoch ran)"
    digits = f"{images_per_second:.0f}" if images_per_second >= 100 else f"{images_per_second:.3g}"
    return f"{digits} images/s (median epoch)"


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True)
@click.option("--data", type=DATA_DIR, default=None,
              help="An ImageFolder to train on (default: a synthetic one generated in --out).")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--max-per-class", default=400, show_default=True, type=click.IntRange(min=0))
def demo(out_dir: Path, data: Path | None, epochs: int, max_per_class: int) -> None:
    """The product end to end: the shipped model on a photo and a kiosk video, then train, convert, verify, benchmark.

    Example: fer-edge demo --data ../shared/data/fer2013
    """
    demo_module = load_workstation("convert.demo")
    result = demo_module.run_demo(out_dir, data, epochs=epochs, max_per_class=max_per_class)
    from fer_edge.cli.bench import bench_table

    click.echo(metrics_table(result.metrics))
    click.echo(verification_table([result.verification]))
    click.echo(bench_table(result.bench))
    for step in result.steps:
        click.echo(f"{step.name} ({step.seconds:.0f} s): {step.summary}")
        for name, path in step.files.items():
            click.echo(f"    {name}: {path}")
    click.echo(f"everything is listed in {Path(out_dir) / 'README.md'}")


@click.command()
@click.argument("model", metavar="MODEL")
@click.argument("data", type=DATA_DIR)
@click.option("--detector", "detectors", multiple=True, type=click.Choice(["yunet", "mtcnn"]), default=("yunet",),
              show_default=True, help="Detector(s) to calibrate the crop framing for (repeatable).")
@click.option("--limit", default=0, show_default=True, type=click.IntRange(min=0),
              help="Frame at most N faces per detector (0: all).")
@click.option("--write", is_flag=True,
              help="Record the framings and the TTA that pays in MODEL's metadata file (before converting).")
@click.option("--tta", "tta", type=click.Choice(["auto", *TTA_MODES]), default="auto", show_default=True,
              help="TTA that --write records: auto, the one that pays here (none or mirror); or as given (e.g. none "
                   "or mirror-unsure when mirror would break a latency budget).")
@click.option("--tta-threshold", type=FiniteFloatRange(0, 1, min_open=True), default=None,
              help="With --tta mirror-unsure: mirror only the faces whose highest probability is under this "
                   "(--write records it; default: the model's own, 0.7 if it has none).")
@click.option("--json", "json_path", type=OutputFile(), default=None)
def calibrate(model: str, data: Path, detectors: tuple[str, ...], limit: int, write: bool, tta: str,
              tta_threshold: float | None, json_path: Path | None):
    """Calibrate MODEL's crop framing per detector, and test-time augmentation, on labelled face crops.

    DATA holds crops framed like the training faces (e.g. ../shared/data/ferplus/valid). Each face is
    upscaled into a larger frame and detected; the median framing of the face around the detector's
    box makes runtime crops look like the training faces.

    Example: fer-edge calibrate runs/x/model.keras ../shared/data/ferplus/valid --detector yunet --write
    """
    from fer_edge.framing import calibrate as run_calibration
    from fer_edge.framing import calibration_target, record_calibration

    if tta_threshold is not None and tta != "mirror-unsure":
        raise click.UsageError("--tta-threshold is the threshold of --tta mirror-unsure")
    target = calibration_target(model) if write else None  # refused before the work, not after
    result = run_calibration(model, data, detectors, limit, progress=True)
    rows = [[f.detector, f"{f.detected}/{f.faces}", f"{f.geometry.scale:.3f}",
             f"{f.scale_quartiles[0]:.3f}-{f.scale_quartiles[2]:.3f}", f"{f.geometry.shift_y:+.3f}",
             f"{f.shift_quartiles[0]:+.3f}-{f.shift_quartiles[2]:+.3f}"] for f in result.framings]
    click.echo(format_table(rows, ["detector", "found", "scale", "scale IQR", "shift_y", "shift_y IQR"]))
    click.echo(f"accuracy on {result.faces} crops: {result.accuracy:.4f}, with mirror TTA {result.accuracy_mirror:.4f}"
               f" -> tta {result.tta}")
    if json_path:
        write_json(json_path, result.to_dict())
    if target is not None:
        recorded = result.tta if tta == "auto" else tta
        record_calibration(target, list(result.framings), recorded, tta_threshold)
        under = "" if tta_threshold is None else f" under {tta_threshold:g}"
        click.echo(f"recorded in {target} (tta {recorded}{under})")


@click.command("fuse-heads")
@click.argument("heads", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", required=True, type=DATA_DIR,
              help="Faces labelled like the primary head (e.g. ../shared/data/ferplus/valid).")
@click.option("--aux-data", required=True, type=DATA_DIR,
              help="Faces labelled like the second head (e.g. ../shared/data/fer2013/val).")
@click.option("--out", required=True, type=OutputFile(), help="The fused .keras model.")
@click.option("--aux-min-accuracy", default=0.0, show_default=True, type=FiniteFloatRange(0, 1),
              help="Accuracy on --aux-data the fusion must keep.")
@click.option("--aux-min-recall", default=0.0, show_default=True, type=FiniteFloatRange(0, 1),
              help="Recall of every --aux-data class the fusion must keep (per-class bias).")
@click.option("--tta", default="mirror", show_default=True,
              help="Test-time augmentation used to score (none or mirror), recorded in the fused model; or one "
                   "per HEADS file (none,mirror,mirror): those mirror views are then built into the ensemble.")
@click.option("--per-member", is_flag=True,
              help="With several HEADS, give each its own aux weight (every combination on a 0.1 grid is tried).")
@click.option("--space", type=click.Choice(["probability", "logit"]), default="probability", show_default=True,
              help="Mix the heads' probabilities (more accurate), or sum their logits into one layer "
                   "(an ordinary one-head model).")
@click.option("--json", "json_path", type=OutputFile(), default=None,
              help="Write the sweep and the choice as JSON.")
def fuse_heads(heads: tuple[Path, ...], data: Path, aux_data: Path, out: Path, aux_min_accuracy: float, aux_min_recall: float,
               tta: str, per_member: bool, space: str, json_path: Path | None) -> None:
    """Fuse the two heads of HEADS (`heads.keras` of `fer-edge train --aux-labels`) into one model.

    The aux weight and per-class bias are chosen for the best accuracy on --data that keeps the
    --aux-data goals. With --space probability the model keeps both heads and mixes their
    probabilities; with --space logit it is an ordinary one-head model of the same architecture.
    Several HEADS files (the same labels) are fused alike and saved as one ensemble model.

    Example: fer-edge fuse-heads runs/x/heads.keras --data ../shared/data/ferplus/valid
    --aux-data ../shared/data/fer2013/val --aux-min-recall 0.3 --out runs/x/fused.keras
    """
    fuse = load_workstation("train.fuse")
    heads_module = load_workstation("train.heads")
    goal = heads_module.FusionGoal(aux_min_accuracy, aux_min_recall)
    result = fuse.fuse_heads_file(list(heads), data, aux_data, out, goal, tta, per_member, space)
    click.echo(fusion_table(result.sweep))
    chosen = result.chosen
    click.echo(f"chosen: aux weight {heads_module.weights_text(chosen['fusion'])}, accuracy {chosen['primary_accuracy']:.4f} "
               f"on --data, {chosen['aux_accuracy']:.4f} on --aux-data")
    if json_path:
        write_json(json_path, {"fusion": result.fusion.to_dict(), "sweep": result.sweep})
    click.echo(f"model: {result.model_path}")


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=OutputFile(), help="The ensemble .keras model.")
@click.option("--weights", default=None, help="Comma-separated weight per model (default: equal).")
def ensemble(models: tuple[Path, ...], out: Path, weights: str | None) -> None:
    """Average the probabilities of MODELS (.keras, the same preprocessing) inside one model.

    Labels are matched by name; a label only some members have gets probability from those.
    The result converts, calibrates and runs like any model.

    Example: fer-edge ensemble runs/a/model.keras runs/b/model.keras --out runs/ensemble.keras
    """
    try:
        values = [float(value) for value in weights.split(",")] if weights else None
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {weights!r}", param_hint="--weights")
    path = load_workstation("train.ensemble").ensemble_file(list(models), out, values)
    click.echo(f"model: {path}")


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=OutputFile(), help="The averaged .keras model.")
def soup(models: tuple[Path, ...], out: Path) -> None:
    """Average the weights of MODELS, fine-tuned from one start, into one model (a model soup).

    Every weight and batch-norm statistic is the members' mean: one model of the same size and speed,
    often more accurate than each member. Models trained apart do not average; members must have the
    same layers, labels and preprocessing (two-head models keep both heads).

    Example: fer-edge soup runs/a/heads.keras runs/b/heads.keras --out runs/soup.keras
    """
    path = load_workstation("train.soup").soup_file(list(models), out)
    click.echo(f"model: {path}")


@click.command("add-head")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=DATA_DIR)
@click.option("--out", required=True, type=OutputFile(), help="The two-head .keras model.")
@click.option("--label-mode", type=click.Choice(["majority", "probability"]), default="probability", show_default=True,
              help="Vote-labelled DATA: majority labels or vote shares as targets.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
def add_head(model: Path, data: Path, out: Path, label_mode: str, epochs: int) -> None:
    """Give MODEL a head for DATA's labels, fitted on its frozen features; its own head becomes the second.

    The result is a two-head model for `fer-edge fuse-heads`, e.g. a FER2013 model with a FER+ head.

    Example: fer-edge add-head fer2013_model.keras ../shared/data/ferplus --out runs/heads.keras
    """
    path = load_workstation("train.probe").add_head_file(model, data, out, label_mode, epochs)
    click.echo(f"model: {path}")


COMMANDS = (train, demo, calibrate, fuse_heads, ensemble, soup, add_head)


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quant", type=click.Choice(["fp32", "fp16", "dynamic", "int8", "all"]), default="int8",
              show_default=True, help="Precision; `all` writes one file per precision into --out (a folder).")
@click.option("--calibration", type=DATA_DIR, default=None,
              help="ImageFolder of real face crops for int8 calibration (its train/ split if it has one).")
@click.option("--samples", default=300, show_default=True, type=click.IntRange(min=1),
              help="Calibration images, stratified by class.")
@click.option("--seed", default=0, show_default=True)
@click.option("--per-tensor", is_flag=True,
              help="int8: one weight scale per tensor, not per output channel (smaller file; check with --verify-data).")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output .tflite (or folder).")
@click.option("--verify-data", type=DATA_DIR, default=None,
              help="Labeled face crops: verify each converted model against MODEL on them and embed the results.")
def convert(model_path: Path, quant: str, calibration: Path | None, samples: int, seed: int, per_tensor: bool,
            out: Path, verify_data: Path | None) -> None:
    """Convert a .keras MODEL to TensorFlow Lite, labels and preprocessing embedded.

    Example: fer-edge convert runs/paper/model.keras --quant int8 --calibration ../shared/data/fer2013 --out paper_int8.tflite
    """
    publish = load_workstation("convert.publish", extra="convert")
    published = publish.publish(model_path, out, quant, calibration, samples, seed, per_tensor, verify_data)
    for result in published.results:
        click.echo(f"{result.quant}: {result.path} ({result.size_bytes:,} bytes)")
    if published.verifications:
        click.echo(verification_table(list(published.verifications)))


def fusion_table(sweep: list[dict], longest: int = 41) -> str:
    """The fusion sweep as a table; a longer sweep shows its `longest // 2` most accurate rows meeting the goal."""
    rows = sweep
    note = ""
    if len(sweep) > longest:
        feasible = [row for row in sweep if row["meets_goal"]]
        rows = sorted(feasible, key=lambda row: -row["primary_accuracy"])[:longest // 2]
        note = f"\n{len(sweep)} fusions tried, {len(feasible)} meet the goal; the most accurate of them above"
    weights_text = load_workstation("train.heads").weights_text
    table = [[weights_text(row["fusion"]), f"{row['primary_accuracy']:.4f}", f"{row['aux_accuracy']:.4f}",
              f"{row['aux_min_recall']:.3f}", "yes" if row["meets_goal"] else "no"] for row in rows]
    return format_table(table, ["aux weight", "accuracy (--data)", "accuracy (--aux-data)", "min aux recall",
                                "meets goal"]) + note


def verification_table(rows: list[dict]) -> str:
    """Keras against TFLite, one row per converted model."""
    body = [[r["quantization"], str(r["n"]), f"{r['keras_accuracy']:.4f}", f"{r['tflite_accuracy']:.4f}",
             f"{r['agreement']:.4f}", f"{r['max_abs_probability_diff']:.2e}", f"{r['tflite_size_bytes']:,}"]
            for r in rows]
    return format_table(body, ["precision", "n", "keras acc", "tflite acc", "agreement", "max |dp|", "size"])


@click.command()
@click.argument("keras_path", metavar="MODEL.keras", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("tflite_path", metavar="MODEL.tflite", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=DATA_DIR)
@click.option("--split", default=None, help="Sub-folder of DATA (default: test, else val, else DATA).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def verify(keras_path: Path, tflite_path: Path, data: Path, split: str | None, as_json: bool) -> None:
    """Compare a TFLite model with its Keras original on labeled face crops DATA.

    Example: fer-edge verify runs/paper/model.keras paper_int8.tflite ../shared/data/fer2013 --split val
    """
    verify_module = load_workstation("convert.verify", extra="convert")
    result = verify_module.verify(keras_path, tflite_path, data, split).to_dict()
    click.echo(json.dumps(result, indent=2) if as_json else verification_table([result]))


COMMANDS = (*COMMANDS, convert, verify)
