"""Unit tests of the reference trainer: split, losses, FGSM, distractors, fp16 conversion.

    PYTHONPATH=trainer /usr/bin/python3 -m unittest discover -s trainer/tests -v
"""
import hashlib
import math
import os
import tempfile
import unittest

import numpy as np
import torch

from nann_trainer.data import read_interactions, split
from nann_trainer.ids import IdNames, parse_id
from nann_trainer.distractors import DISTRACTOR_ID_BASE, DiagonalGmm, distractor_ids, with_distractors
from nann_trainer.nce import fgsm_delta, fgsm_flatness, nce_loss


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class SplitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        rng = np.random.default_rng(1)
        lines = ["user,item,rating,timestamp"]
        for u in range(60):
            for k in range(10 + u % 7):
                lines.append(f"{u},{rng.integers(1, 80)},{rng.integers(1, 6)},{1000 * u + k * 7 + (u * 13) % 5}")
        lines += ["3,oops,1,2", "4,5", "5,6,1,nan", ""]
        for u in range(60, 64):     # short users: dropped by min_len
            lines.append(f"{u},1,5,{u}")
        self.path = os.path.join(self.tmp.name, "log.csv")
        write(self.path, "\n".join(lines) + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def test_bad_rows_are_counted_and_skipped(self):
        data = read_interactions(self.path)
        self.assertEqual(data.bad_rows, 2)            # "4,5" and the time "nan"
        self.assertEqual(len(data.bad_examples), 2)
        self.assertEqual(len(data.sequences), 64)
        self.assertEqual(data.hashed_ids["item"], {parse_id("oops"): "oops"}, "a text id is hashed, not lost")

    def test_a_byte_order_mark_and_ids_beyond_64_bits(self):
        # a spreadsheet's "CSV UTF-8" without a header starts with a BOM: its first row is data, not
        # a header; an id past 2^63 - 1 is text like any other, hashed as the client's NannIds does
        path = os.path.join(self.tmp.name, "bom.csv")
        with open(path, "w", encoding="utf-8-sig") as f:
            f.write("1,50,1,100\n1,7,1,101\n2,18446744073709551615,1,102\n")
        data = read_interactions(path)
        self.assertEqual(data.sequences[1], [50, 7])
        self.assertEqual(data.bad_rows, 0)
        big = parse_id("18446744073709551615")
        self.assertEqual(data.sequences[2], [big])
        self.assertEqual(big, int.from_bytes(hashlib.sha256(b"18446744073709551615").digest()[:8], "big", signed=True))

    def test_item_attributes_with_a_movielens_directory_are_refused(self):
        with self.assertRaisesRegex(ValueError, "--items applies to --data FILE"):
            read_interactions(self.tmp.name, items_path=self.path)

    def test_sequences_are_in_time_order(self):
        rows = [ln.split(",") for ln in open(self.path).read().splitlines()[1:] if ln.count(",") == 3]
        data = read_interactions(self.path)
        for u in (0, 7, 33):
            mine = sorted((int(r[3]), int(r[1])) for r in rows if r[0] == str(u) and r[3] != "nan")
            self.assertEqual(data.sequences[u], [i for _t, i in mine])

    def test_no_future_of_a_held_out_user_leaks_into_training(self):
        data = read_interactions(self.path)
        sp = split(data, seq_len=5, val_users=6, test_users=6, min_len=10, seed=3)
        self.assertEqual(sp.dropped_users, 4)
        held = {u for u, _h, _t in sp.val + sp.test}
        self.assertEqual(len(held), 12)
        self.assertFalse(held & set(sp.train_users), "held-out users are never trained on")
        row = {int(i): r for r, i in enumerate(data.item_ids)}
        for u, hist, truth in sp.test:
            s = [row[i] for i in data.sequences[u]]
            k = math.ceil(len(s) / 2) - 1
            self.assertEqual(truth, s[k], "ground truth is the ⌈l/2⌉-th behaviour")
            self.assertEqual(hist, s[max(0, k - 5):k], "history is what came before it, capped at L")
        # training examples: each target predicted only from behaviours before it
        n = sum(len(data.sequences[u]) - 1 for u in sp.train_users)
        self.assertEqual(len(sp.train_examples), n)
        by_user = iter(sp.train_examples)
        for u in sp.train_users:
            s = [row[i] for i in data.sequences[u]]
            for k in range(1, len(s)):
                hist, target = next(by_user)
                self.assertEqual(target, s[k])
                self.assertEqual(hist, s[max(0, k - 5):k])

    def test_same_seed_same_split(self):
        data = read_interactions(self.path)
        a = split(data, seed=5, val_users=5, test_users=5)
        b = split(data, seed=5, val_users=5, test_users=5)
        self.assertEqual(a.test, b.test)
        self.assertNotEqual([u for u, _h, _t in a.test], [u for u, _h, _t in split(data, seed=6, val_users=5,
                                                                                    test_users=5).test])



class LogFormatsTest(unittest.TestCase):
    """The logs a user brings: other column orders and names, no rating column, text ids, ISO times."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # (user, item, seconds): three users, out of time order in the file
        self.rows = [(1, 10, 300), (1, 11, 100), (2, 10, 200), (1, 12, 200), (2, 13, 100), (3, 11, 50)]
        self.expected = {1: [11, 12, 10], 2: [13, 10], 3: [11]}

    def tearDown(self):
        self.tmp.cleanup()

    def read(self, text, **kw):
        path = os.path.join(self.tmp.name, "log")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return read_interactions(path, **kw)

    def test_three_columns_user_item_time_with_or_without_a_header(self):
        body = "".join(f"{u}\t{i}\t{t}\n" for u, i, t in self.rows)
        self.assertEqual(self.read(body).sequences, self.expected)
        self.assertEqual(self.read("user_id\titem_id\tts\n" + body).sequences, self.expected)

    def test_a_header_naming_its_columns_in_any_order(self):
        # RetailRocket's events.csv: timestamp,visitorid,event,itemid,transactionid
        body = "timestamp,visitorid,event,itemid,transactionid\n" + "".join(
            f"{t},{u},view,{i},\n" for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.sequences, self.expected)
        self.assertIn("user = column 2 (visitorid)", data.layout)

    def test_iso_dates_and_times_order_like_the_seconds_they_name(self):
        iso = {50: "2024-02-29", 100: "2024-03-01 09:00:00", 200: "2024-03-01T09:30:00Z",
               300: "2024-03-01T11:00:00+01:00"}      # the last is 10:00 UTC: after 09:30, as 300 > 200
        body = "user,item,rating,time\n" + "".join(f"{u},{i},5,{iso[t]}\n" for u, i, t in self.rows)
        self.assertEqual(self.read(body).sequences, self.expected)
        bad = self.read("user,item,rating,time\n1,2,5,yesterday\n1,3,5,7\n")
        self.assertEqual(bad.bad_rows, 1)
        self.assertIn("neither a number nor an ISO-8601 date", bad.bad_examples[0])

    def test_text_ids_are_hashed_and_named(self):
        body = "customer;product;when\n" + "".join(f'"u-{u}";"SKU {i}; blue";{t}\n' for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.bad_rows, 0)
        self.assertEqual(data.sequences[parse_id("u-1")], [parse_id(f"SKU {i}; blue") for i in (11, 12, 10)])
        self.assertEqual(data.hashed_ids["user"][parse_id("u-2")], "u-2")
        self.assertEqual(len(data.hashed_ids["item"]), 4)
        self.assertEqual(parse_id("u-1"), int.from_bytes(hashlib.sha256(b"u-1").digest()[:8], "big", signed=True))
        self.assertEqual(parse_id("+42"), 42)

    def test_columns_by_number_or_name_where_the_header_says_nothing(self):
        body = "a b c d\n" + "".join(f"{t} x {i} {u}\n" for u, i, t in self.rows)
        self.assertEqual(self.read(body, columns="4,3,1").sequences, self.expected)
        self.assertEqual(self.read(body, columns="d,c,a").sequences, self.expected)
        with self.assertRaisesRegex(ValueError, "'e' is neither a column number nor a name"):
            self.read(body, columns="e,c,a")

    def test_an_export_with_a_session_column_and_utc_times(self):
        # e.g. an e-commerce events export: event_time,event_type,product_id,...,user_id,user_session
        body = "event_time,event_type,product_id,price,user_id,user_session\n" + "".join(
            f"2019-10-01 00:0{t // 100}:00 UTC,view,{i},1.0,{u},s{u}\n" for u, i, t in self.rows)
        self.assertEqual(self.read(body).sequences, self.expected)

    def test_columns_by_number_probe_those_columns_for_a_header(self):
        body = "".join(f"{t},u{u},SKU{i}\n" for u, i, t in self.rows)     # no header, time first, text ids
        data = self.read(body, columns="2,3,1")
        self.assertEqual(data.interactions, len(self.rows), "the first row is data, not a header")
        self.assertEqual(data.sequences[parse_id("u1")], [parse_id(f"SKU{i}") for i in self.expected[1]])

    def test_a_header_without_a_time_column_is_refused_with_what_to_do(self):
        with self.assertRaisesRegex(ValueError, "does not name one column for the time.*--columns"):
            self.read("user_id,book_id,rating\n1,2,5\n")

    def test_a_first_row_whose_time_does_not_parse_is_a_bad_row_not_a_header(self):
        body = "1,31,yesterday\n" + "".join(f"{u},{i},{t}\n" for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.sequences, self.expected)
        self.assertEqual(data.bad_rows, 1)
        self.assertIn("line 1: time 'yesterday' is neither a number nor an ISO-8601 date", data.bad_examples[0])

    def test_a_rating_read_as_the_time_is_warned_about(self):
        rng = np.random.default_rng(3)
        body = "".join(f"{u},{int(rng.integers(1, 50))},{int(rng.integers(1, 6))}\n" for u in range(40) for _k in range(5))
        data = self.read(body)
        self.assertEqual(len(data.warnings), 1)
        self.assertIn("the time column holds only 5 distinct values (1, 2, 3, 4, 5) for 200 rows", data.warnings[0])
        self.assertEqual(self.read("".join(f"{u}\t{i}\t{t}\n" for u, i, t in self.rows)).warnings, [])

    def test_a_stray_quote_costs_its_own_row_only(self):
        # an opening quote never closed used to swallow every later line as one field
        body = "user,item,time\n" + 'u1,"12 inch,5\n' + "".join(f"{u},{i},{t}\n" for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.sequences, self.expected)
        self.assertEqual(data.bad_rows, 1)
        self.assertIn("line 2", data.bad_examples[0])

    def test_semicolons_with_decimal_comma_ratings(self):
        body = "".join(f"{u};{i};2,5;{t}\n" for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.sequences, self.expected)
        self.assertEqual(data.bad_rows, 0)

    def test_a_quoted_list_of_semicolons_does_not_make_a_comma_file_semicolon_separated(self):
        body = "".join(f'{u},{i},5,{t},"Books;Fiction;Fantasy;Epic;Saga;YA"\n' for u, i, t in self.rows)
        data = self.read(body)
        self.assertEqual(data.sequences, self.expected)
        self.assertEqual(data.bad_rows, 0)

    def test_lines_ended_by_a_lone_carriage_return(self):
        # Excel for Mac's "CSV (Macintosh)"
        for sep in (",", "\t"):
            data = self.read("".join(f"{u}{sep}{i}{sep}{t}\r" for u, i, t in self.rows))
            self.assertEqual(data.sequences, self.expected, repr(sep))
            self.assertEqual(data.bad_rows, 0)

    def test_lines_that_are_not_utf8_are_bad_rows_not_merged_ids(self):
        path = os.path.join(self.tmp.name, "latin1.tsv")
        with open(path, "wb") as f:
            f.write("1\tCafé\t1\n1\tCafè\t2\n2\tTea\t3\n".encode("latin-1"))
        data = read_interactions(path)
        self.assertEqual(list(data.sequences), [2])
        self.assertEqual(data.bad_rows, 2)
        self.assertIn("not UTF-8", data.bad_examples[0])

    def test_one_integer_spelled_two_ways_is_refused_not_merged(self):
        body = "1\t7\t1\n1\t007\t2\n2\t+7\t3\n2\t7\t4\n"
        data = self.read(body)
        self.assertEqual(data.sequences, {1: [7], 2: [7]})
        self.assertEqual(data.bad_rows, 2)
        self.assertIn("'7' and '007' are both the integer 7", data.bad_examples[0])

    def read_with_items(self, items_text):
        """The rows of this test with an item file holding ``items_text``."""
        items = os.path.join(self.tmp.name, "items")
        write(items, items_text)
        return self.read("".join(f"{u}\t{i}\t{t}\n" for u, i, t in self.rows), items_path=items)

    def test_an_item_file_that_is_not_tab_separated_adds_no_items(self):
        data = self.read_with_items("item\tyear\tgenres\n10\t1995\tComedy|Drama\n\n11,1996,Horror\n12\t\t\n")
        self.assertEqual(sorted(int(i) for i in data.item_ids), [10, 11, 12, 13])
        self.assertEqual(data.bad_rows, 1)
        self.assertIn("no tab", data.bad_examples[0])
        self.assertEqual(data.hashed_ids["item"], {}, "neither the heading nor the comma line became an item")
        self.assertEqual(data.attribute_names, ["Comedy", "Drama", "year"])
        self.assertEqual(list(data.attributes[0][:2]), [1.0, 1.0])

    def test_a_year_that_is_not_finite_is_a_bad_row_not_nan_attributes(self):
        data = self.read_with_items("10\t1995\tComedy\n11\tinf\tHorror\n12\t1e999\t\n13\n")   # 13: id alone
        self.assertEqual(data.bad_rows, 2)
        self.assertIn("not a finite number", data.bad_examples[0])
        self.assertTrue(np.isfinite(data.attributes).all())

    def test_a_hash_collision_is_refused(self):
        names = IdNames("item")
        names.names[parse_id("SKU-1")] = "SKU-2"         # as if two texts met on one id
        with self.assertRaisesRegex(ValueError, "same 64-bit id"):
            names.id_of("SKU-1")
        self.assertEqual(names.id_of("17"), 17)

class RecallTest(unittest.TestCase):
    def setUp(self):
        from nann_trainer.models import Scorer
        torch.manual_seed(4)
        self.emb = torch.randn(300, 8)
        self.users = [(u, [u % 300, (u * 7) % 300], (u * 13) % 300) for u in range(40)]
        self.scorer = Scorer("attention", 8, 12).eval()

    def test_items_scored_in_chunks_give_the_same_recall(self):
        from nann_trainer.cli.train import recall_at
        whole = recall_at(self.scorer, self.emb, self.users, 4, (10, 50))
        self.assertEqual(recall_at(self.scorer, self.emb, self.users, 4, (10, 50), chunk_cells=97), whole)
        self.assertGreater(whole[50], 0.0)

    def test_a_constant_or_nan_scorer_recalls_nothing(self):
        from nann_trainer.cli.train import recall_at
        for value in (0.0, float("nan")):
            with self.subTest(value=value):
                flat = torch.nn.Module()
                flat.user = self.scorer.user
                flat.score = torch.nn.Module()
                flat.score.score_grid = lambda state, cand, v=value: torch.full(cand.shape[:2], v)
                self.assertEqual(recall_at(flat, self.emb, self.users, 4, (10, 299)), {10: 0.0, 299: 0.0})


class LossTest(unittest.TestCase):
    def test_nce_by_hand(self):
        scores = torch.tensor([[2.0, 0.5, -1.0]])
        log_q = torch.log(torch.tensor([[0.1, 0.2, 0.3]]))
        k = 2
        logits = [2.0 - math.log(k * 0.1), 0.5 - math.log(k * 0.2), -1.0 - math.log(k * 0.3)]

        def sp(x):
            return math.log1p(math.exp(-x))
        want = sp(logits[0]) + sp(-logits[1]) + sp(-logits[2])   # -log σ(pos) - Σ log(1 - σ(neg))
        self.assertAlmostEqual(float(nce_loss(scores, log_q, k)), want, places=5)

    def test_fgsm_delta_has_the_gradient_sign_and_max_norm_eps(self):
        w = torch.tensor([0.5, -2.0, 0.0001, -0.3])
        e = torch.randn(3, 4)
        delta = fgsm_delta(lambda x: x @ w, e, 0.05)
        self.assertTrue(torch.equal(delta, 0.05 * torch.sign(w).expand(3, 4)))
        self.assertAlmostEqual(float(delta.abs().max()), 0.05, places=7)
        self.assertFalse(delta.requires_grad)

    def test_flatness_is_the_bernoulli_kl_by_hand(self):
        w = torch.tensor([1.0, -1.0])
        e = torch.tensor([[0.2, 0.1]])
        eps = 0.1
        s = float(e[0] @ w)                 # 0.1
        s_adv = s + eps * (1 + 1)           # Δ = ε·sign(w) moves the score by ε·‖w‖₁
        p, q = 1 / (1 + math.exp(-s)), 1 / (1 + math.exp(-s_adv))
        want = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
        got = fgsm_flatness(lambda x: x @ w, e, e @ w, eps)
        self.assertAlmostEqual(float(got), want, places=6)
        self.assertEqual(float(fgsm_flatness(lambda x: x @ w, e, e @ w, 0.0)), 0.0)

    def test_flatness_is_zero_for_a_flat_scorer_and_positive_otherwise(self):
        e = torch.randn(5, 3)
        flat = fgsm_flatness(lambda x: torch.zeros(x.shape[0]) + 0 * x.sum(1), e, torch.zeros(5), 0.1)
        self.assertAlmostEqual(float(flat), 0.0, places=7)
        w = torch.tensor([3.0, -1.0, 2.0])
        self.assertGreater(float(fgsm_flatness(lambda x: x @ w, e, e @ w, 0.1)), 0.0)


class DistractorTest(unittest.TestCase):
    def test_gmm_recovers_two_clusters_and_samples_like_them(self):
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(-3, 0.5, (400, 2)), rng.normal(4, 1.0, (600, 2))])
        gmm = DiagonalGmm.fit(x, components=2, seed=1)
        order = np.argsort(gmm.means[:, 0])
        np.testing.assert_allclose(gmm.means[order], [[-3, -3], [4, 4]], atol=0.2)
        np.testing.assert_allclose(gmm.weights[order], [0.4, 0.6], atol=0.05)
        s = gmm.sample(20000, seed=2)
        self.assertAlmostEqual(float((s[:, 0] < 0.5).mean()), 0.4, delta=0.02)

    def test_distractors_follow_the_real_items_with_their_own_ids(self):
        real = np.random.default_rng(3).normal(size=(50, 4)).astype(np.float32)
        emb, ids = with_distractors(real, np.arange(1, 51), 1000, components=3, seed=4, log=lambda s: None)
        self.assertEqual(emb.shape, (1050, 4))
        np.testing.assert_array_equal(emb[:50], real)
        self.assertTrue((ids[50:] >= DISTRACTOR_ID_BASE).all())
        self.assertEqual(len(set(ids.tolist())), 1050)
        np.testing.assert_allclose(emb[50:].mean(0), real.mean(0), atol=0.25)

    def test_distractor_ids_start_past_real_ids_that_reach_the_base(self):
        # hashed or snowflake ids at and past 10^9: no distractor may take one of them
        real_ids = np.array([5, DISTRACTOR_ID_BASE, DISTRACTOR_ID_BASE + 41], dtype=np.int64)
        ids = distractor_ids(real_ids, 100)
        self.assertEqual(len(set(ids.tolist())), 103)
        self.assertEqual(int(ids[3]), DISTRACTOR_ID_BASE + 42)
        with self.assertRaisesRegex(ValueError, "no room for 100 distractor ids"):
            distractor_ids(np.array([2 ** 63 - 10], dtype=np.int64), 100)

    def test_distractors_are_sampled_in_chunks_of_200k_each_with_its_own_seed(self):
        real = np.random.default_rng(7).normal(size=(30, 2)).astype(np.float32)
        n = 2 * 200_000 + 5
        emb, _ids = with_distractors(real, np.arange(30), n, components=2, seed=4, log=lambda s: None)
        gmm = DiagonalGmm.fit(real, components=2, seed=4)
        want = np.concatenate([gmm.sample(200_000, seed=5), gmm.sample(200_000, seed=6), gmm.sample(5, seed=7)])
        np.testing.assert_array_equal(emb[30:], want)

    def test_distractors_stay_on_the_sphere_of_normalised_items(self):
        real = np.random.default_rng(5).normal(size=(80, 6)).astype(np.float32)
        real *= 4 / np.linalg.norm(real, axis=1, keepdims=True)
        emb, _ids = with_distractors(real, np.arange(80), 500, components=4, seed=6, log=lambda s: None)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 4.0, rtol=1e-5)


class Fp16Test(unittest.TestCase):
    def test_conversion_keeps_float_io_and_halves_the_weights(self):
        import onnx
        from nann_trainer.fp16 import convert
        lin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            torch.onnx.export(lin, (torch.zeros(2, 4),), path, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17)
            m = convert(onnx.load(path))
        self.assertEqual(m.graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertEqual(m.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertTrue(all(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer))

    def test_an_epsilon_that_vanishes_in_fp16_is_refused(self):
        import onnx
        from nann_trainer.fp16 import convert

        class MeanPool(torch.nn.Module):
            def forward(self, x, mask):
                return (x * mask).sum(1) / (mask.sum(1) + 1e-9)

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            torch.onnx.export(MeanPool(), (torch.zeros(2, 4), torch.ones(2, 4)), path, input_names=["x", "mask"],
                              output_names=["y"], opset_version=17)
            with self.assertRaisesRegex(ValueError, r"= 1e-09 is 0 in fp16.*1e-4 or more"):
                convert(onnx.load(path))


if __name__ == "__main__":
    unittest.main()


class CommandLineTest(unittest.TestCase):
    def test_a_tiny_catalogue_and_one_interaction_users_train_and_export_with_a_given_version(self):
        # 5 items (fewer than the export's reference check samples) and users whose held-out history
        # is empty (--min-len 1): both used to fail after model.json was written
        import contextlib
        import io
        import json

        from nann_trainer.__main__ import main

        rng = np.random.default_rng(1)
        with tempfile.TemporaryDirectory() as tmp:
            lines = ["user,item,rating,timestamp"]
            for u in range(40):
                for k in range(1 if u < 10 else int(rng.integers(2, 9))):
                    lines.append(f"{u},{int(rng.integers(1, 6))},1,{u * 100 + k}")
            write(os.path.join(tmp, "log.csv"), "\n".join(lines) + "\n")
            out = os.path.join(tmp, "run")
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["train", "--data", os.path.join(tmp, "log.csv"), "--arch", "attention", "--epochs", "1",
                             "--min-len", "1", "--distractors", "0", "--version", "2026-12-06", "--out", out])
            self.assertIn(code, (None, 0))
            with open(os.path.join(out, "model", "model.json")) as f:
                self.assertEqual("2026-12-06", json.load(f)["version"])
            with open(os.path.join(out, "model", "reference.json")) as f:
                users = json.load(f)["users"]
            self.assertTrue(all(len(u["scores"]) == 5 for u in users))

            # train-dr splits the data as the run did (its test users stay unseen), and refuses a split
            # that holds out other users (here: train.json without the run's --min-len 1)
            from nann_trainer.cli.train_dr import run_split
            from nann_trainer.data import read_interactions as read
            with open(os.path.join(out, "train.json")) as f:
                run = json.load(f)
            data = read(os.path.join(tmp, "log.csv"))
            with open(os.path.join(out, "corpus", "users.tsv")) as f:
                held_out = {int(line.split("\t")[0]) for line in f}
            self.assertEqual(held_out, {u for u, _h, _t in run_split(out, run, data).test})
            del run["split"]
            with self.assertRaises(SystemExit) as refused:
                run_split(out, run, data)
            self.assertIn("does not hold out the test users", str(refused.exception))

    def test_numbers_that_would_fail_after_training_are_refused_before_it(self):
        from nann_trainer.__main__ import main
        with tempfile.TemporaryDirectory() as tmp:
            for bad in (["--gmm-components", "0", "--distractors", "100"], ["--distractors", "-1"], ["--batch", "0"]):
                with self.assertRaises(SystemExit) as refused:   # the data file does not exist: not read before
                    main(["train", "--data", os.path.join(tmp, "none.csv"), "--out", os.path.join(tmp, "run")] + bad)
                self.assertIn("must be", str(refused.exception), bad)

    def test_distract_refuses_to_write_over_its_own_corpus(self):
        from nann_trainer.__main__ import main
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(SystemExit) as missing:
                main(["distract", "--corpus", os.path.join(tmp, "none"), "--distractors", "10", "--out", tmp])
            self.assertIn("is not a corpus directory", str(missing.exception))
            write(os.path.join(tmp, "corpus.json"), "{}")
            with self.assertRaises(SystemExit) as refused:
                main(["distract", "--corpus", tmp, "--distractors", "10", "--out", tmp])
            self.assertIn("--out is --corpus", str(refused.exception))

    def test_a_missing_data_file_is_one_line_not_a_traceback(self):
        import contextlib
        import io

        from nann_trainer.__main__ import main

        with tempfile.TemporaryDirectory() as tmp:
            missing = os.path.join(tmp, "ratings.csv")
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["train", "--data", missing, "--arch", "attention", "--epochs", "1",
                             "--out", os.path.join(tmp, "run")])
            self.assertEqual(1, code)
            self.assertEqual(f"python3 -m nann_trainer train: no such file or directory: {missing}\n", err.getvalue())
