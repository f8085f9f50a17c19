"""Writes a model directory in nann's contract: model.json, user.onnx, score.onnx, item.onnx."""
import hashlib
import json
import os
import warnings

import torch

FORMAT = 1
OPSET = 17


def onnx_export(module, args, path, input_names, output_names, dynamic_axes):
    """torch.onnx.export in eval mode, without the exporter's notes on its own shape inference.

    torch 1.13 warns "The shape inference of prim::Constant type is missing" for constants it folds
    itself; the exported graph is complete (the Java side checks every exported model), so the note
    only alarms a user reading the trainer's output.
    """
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant type is missing")
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)


def export_model_dir(out_dir, scorer, item_net, *, dim, seq_len, item_feat_dim, version, extra=None,
                     precision="fp32"):
    """Exports ``scorer`` (nann_trainer.models.Scorer) and ``item_net`` to ``out_dir``.

    ``precision="fp16"`` converts the networks to half precision behind fp32 inputs and outputs
    (nann_trainer.fp16), for the CUDA execution provider.
    """
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, got {precision!r}")
    os.makedirs(out_dir, exist_ok=True)
    arch = scorer.arch
    user_out = scorer.user.output_names()
    seq_emb = torch.zeros(2, seq_len, dim)
    seq_mask = torch.ones(2, seq_len)
    onnx_export(scorer.user, (seq_emb, seq_mask), os.path.join(out_dir, "user.onnx"),
            ["seq_emb", "seq_mask"], user_out,
            {"seq_emb": {0: "users"}, "seq_mask": {0: "users"}, **{n: {0: "users"} for n in user_out}})

    score_in = scorer.score.input_names()
    with torch.no_grad():
        state = scorer.user(seq_emb, seq_mask)
    user_idx = torch.tensor([0, 1, 1], dtype=torch.int64)
    item_emb = torch.zeros(3, dim)
    axes = {n: {0: "users"} for n in user_out}
    axes.update({"user_idx": {0: "n"}, "item_emb": {0: "n"}, "score": {0: "n"}})
    onnx_export(scorer.score, (*state, user_idx, item_emb), os.path.join(out_dir, "score.onnx"),
            score_in, ["score"], axes)

    names = ["user.onnx", "score.onnx"]
    if item_net is not None:
        onnx_export(item_net, (torch.zeros(3, item_feat_dim),), os.path.join(out_dir, "item.onnx"),
                ["item_feat"], ["item_emb"], {"item_feat": {0: "n"}, "item_emb": {0: "n"}})
        names.append("item.onnx")

    if precision == "fp16":
        from nann_trainer.fp16 import convert_file
        for name in names:
            convert_file(os.path.join(out_dir, name))

    files = {}
    for name in names:
        with open(os.path.join(out_dir, name), "rb") as f:
            files[name] = hashlib.sha256(f.read()).hexdigest()
    spec = {
        "format": FORMAT,
        "version": version,
        "arch": arch,
        "item_dim": dim,
        "max_seq_len": seq_len,
        "item_feat_dim": item_feat_dim if item_net is not None else 0,
        "user": {"file": "user.onnx",
                 "inputs": [{"name": "seq_emb", "source": "behavior_embeddings"},
                            {"name": "seq_mask", "source": "behavior_mask"}],
                 "outputs": user_out},
        "score": {"file": "score.onnx", "user_state": user_out, "user_idx": "user_idx",
                  "item_emb": "item_emb", "output": "score"},
        "sha256": files,
    }
    if precision != "fp32":
        spec["precision"] = precision
    if getattr(scorer, "attention", None) not in (None, "dot"):
        spec["attention"] = scorer.attention
    if item_net is not None:
        spec["item"] = {"file": "item.onnx", "input": "item_feat", "output": "item_emb"}
    if extra:
        spec.update(extra)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(spec, f, indent=2, sort_keys=True)
        f.write("\n")
    return spec
