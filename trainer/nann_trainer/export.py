"""Writes a model directory in nann's contract: model.json, user.onnx, score.onnx, item.onnx."""
import hashlib
import inspect
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
        # the TorchScript exporter, which the contract's opset and dynamic axes were made with (newer
        # PyTorch defaults to the dynamo one, which needs opset 18 and treats dynamic_axes as hints)
        legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, **legacy)


def _require_inputs(path, names, hint):
    """The exporter drops inputs a network does not use; nann feeds every contract input, so say so here."""
    import onnx
    kept = [i.name for i in onnx.load(path, load_external_data=False).graph.input]
    dropped = [n for n in names if n not in kept]
    if dropped:
        raise ValueError(f"{os.path.basename(path)}: the network does not use input(s) {dropped}, and the exporter "
                         f"dropped them; nann passes every input of the contract, so use each one ({hint})")


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
    _require_inputs(os.path.join(out_dir, "user.onnx"), ["seq_emb", "seq_mask"],
                    "a user network weighs each behaviour row by seq_mask, e.g. seq_emb * seq_mask.unsqueeze(-1)")

    score_in = list(scorer.score.input_names())
    if len(score_in) != len(user_out) + 2 or score_in[:len(user_out)] != list(user_out):
        raise ValueError(f"score.input_names() {score_in} must be the user network's outputs {list(user_out)} (the "
                         "user state, in that order), then the user_idx input, then the item embeddings input")
    idx_name, emb_name = score_in[-2], score_in[-1]
    with torch.no_grad():
        state = scorer.user(seq_emb, seq_mask)
    user_idx = torch.tensor([0, 1, 1], dtype=torch.int64)
    item_emb = torch.zeros(3, dim)
    axes = {n: {0: "users"} for n in user_out}
    axes.update({idx_name: {0: "n"}, emb_name: {0: "n"}, "score": {0: "n"}})
    onnx_export(scorer.score, (*state, user_idx, item_emb), os.path.join(out_dir, "score.onnx"),
            score_in, ["score"], axes)
    _require_inputs(os.path.join(out_dir, "score.onnx"), score_in,
                    "a score network picks each candidate's user state row with user_idx, e.g. u_vec[user_idx]")

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
        "score": {"file": "score.onnx", "user_state": user_out, "user_idx": idx_name,
                  "item_emb": emb_name, "output": "score"},
        "sha256": files,
    }
    if precision != "fp32":
        spec["precision"] = precision
    if getattr(scorer, "attention", None) not in (None, "dot"):
        spec["attention"] = scorer.attention
    if item_net is not None:
        spec["item"] = {"file": "item.onnx", "input": "item_feat", "output": "item_emb"}
    if extra:
        clash = sorted(set(extra) & set(spec))
        if clash:   # the contract's own fields are written from the model, never from a caller's notes
            raise ValueError(f"extra model.json fields {clash} would replace the contract's")
        spec.update(extra)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(spec, f, indent=2, sort_keys=True)
        f.write("\n")
    return spec
