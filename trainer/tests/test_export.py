"""export_model_dir on models the reference trainer does not make: names of the user's choosing, clear refusals."""
import json
import os
import tempfile
import unittest

import onnx
import torch
from torch import nn

from nann_trainer.export import export_model_dir

D, L = 8, 4


class User(nn.Module):
    def __init__(self, out="state", use_mask=True):
        super().__init__()
        self.lin, self.out, self.use_mask = nn.Linear(D, D), out, use_mask

    def output_names(self):
        return [self.out]

    def forward(self, seq_emb, seq_mask):
        return (self.lin((seq_emb * seq_mask.unsqueeze(-1) if self.use_mask else seq_emb).sum(1)),)


class Score(nn.Module):
    def __init__(self, names, use_idx=True):
        super().__init__()
        self.names, self.use_idx = names, use_idx

    def input_names(self):
        return self.names

    def forward(self, state, idx, cands):
        u = state[idx] if self.use_idx else state[:1].expand(cands.shape[0], -1)
        return (u * cands).sum(1)


class Model(nn.Module):
    arch = "test"

    def __init__(self, user, score):
        super().__init__()
        self.user, self.score = user, score


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def export(self, model):
        out = os.path.join(self.tmp.name, "m")
        export_model_dir(out, model, None, dim=D, seq_len=L, item_feat_dim=0, version="m-1")
        return out

    def test_input_names_of_the_users_choosing_reach_model_json_and_stay_dynamic(self):
        out = self.export(Model(User(), Score(["state", "idx", "cands"])))
        spec = json.load(open(os.path.join(out, "model.json")))
        self.assertEqual((spec["score"]["user_idx"], spec["score"]["item_emb"]), ("idx", "cands"))
        inputs = {i.name: i for i in onnx.load(os.path.join(out, "score.onnx")).graph.input}
        for name in ("state", "idx", "cands"):
            self.assertTrue(inputs[name].type.tensor_type.shape.dim[0].dim_param, f"{name}'s first axis is dynamic")

    def test_names_that_do_not_follow_the_user_state_are_refused(self):
        with self.assertRaisesRegex(ValueError, r"must be the user network's outputs \['state'\]"):
            self.export(Model(User(), Score(["u", "idx", "cands"])))

    def test_a_score_network_that_ignores_user_idx_is_refused_with_what_to_do(self):
        with self.assertRaisesRegex(ValueError, r"does not use input\(s\) \['idx'\].*u_vec\[user_idx\]"):
            self.export(Model(User(), Score(["state", "idx", "cands"], use_idx=False)))

    def test_a_user_network_that_ignores_the_mask_is_refused_with_what_to_do(self):
        with self.assertRaisesRegex(ValueError, r"user.onnx: .*\['seq_mask'\].*seq_mask.unsqueeze"):
            self.export(Model(User(use_mask=False), Score(["state", "idx", "cands"])))


if __name__ == "__main__":
    unittest.main()
