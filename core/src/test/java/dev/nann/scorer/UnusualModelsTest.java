package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models a user may bring that the reference trainer does not make, exported with its
 * {@code export_model_dir}: each is served, or refused with what to fix.
 */
class UnusualModelsTest {
  /** A two-tower model: an MLP over the mean behaviour embedding, and the items' own embeddings. */
  private static final String USER_TOWER = """
      class User(nn.Module):
          def __init__(self):
              super().__init__()
              self.mlp = nn.Sequential(nn.Linear(D, D), nn.Tanh(), nn.Linear(D, D))
          def output_names(self):
              return ["u_vec"]
          def forward(self, seq_emb, seq_mask):
              pooled = (seq_emb * seq_mask.unsqueeze(-1)).sum(1) / seq_mask.sum(1, keepdim=True).clamp(min=1.0)
              return (self.mlp(pooled),)
      """;

  @TempDir
  Path dir;

  @Test
  void aCosineScorerUndefinedOnlyAtTheZeroItemIsServed() throws Exception {
    // no epsilon: NaN for an all-zero item, which no real item is
    Path model = twoTower("cosine",
        "return (u_vec[user_idx] * item_emb).sum(1) / (u_vec[user_idx].norm(dim=1) * item_emb.norm(dim=1))");
    try (OnnxScorer scorer = OnnxScorer.open(model, 1)) {   // warming every batch size up must not refuse it
      assertEquals(16, scorer.itemDim());
    }
    ModelCheck.Report report = ModelCheck.run(model, 64, 7);
    assertTrue(report.ok(), "problems: " + report.problems());
  }

  @Test
  void networksOutsideTheDirectoryOrWithTheirWeightsInOtherFilesAreRefused() throws Exception {
    Path base = TestData.model("two-sided", 16);
    // weights moved out to user.weights (ONNX external data), model.json's checksums made anew: the
    // checksums would no longer cover what the runtime loads
    Path external = dir.resolve("external");
    TestData.python("import hashlib, json, os, shutil, onnx\n"
        + "from onnx.external_data_helper import convert_model_to_external_data\n"
        + "src, dst = " + TestData.pyString(base.toString()) + ", " + TestData.pyString(external.toString()) + "\n"
        + "shutil.copytree(src, dst)\n"
        + "m = onnx.load(os.path.join(dst, 'user.onnx'))\n"
        + "convert_model_to_external_data(m, all_tensors_to_one_file=True, location='user.weights', size_threshold=0)\n"
        + "onnx.save_model(m, os.path.join(dst, 'user.onnx'))\n"
        + "spec = json.load(open(os.path.join(dst, 'model.json')))\n"
        + "spec['sha256']['user.onnx'] = hashlib.sha256(open(os.path.join(dst, 'user.onnx'), 'rb').read()).hexdigest()\n"
        + "json.dump(spec, open(os.path.join(dst, 'model.json'), 'w'))\n");
    ModelContractException e = assertThrows(ModelContractException.class,
        () -> OnnxModel.load(external));
    assertTrue(e.getMessage().contains("its weights are in separate files"), e.getMessage());

    // a network named outside the directory
    Path outside = dir.resolve("outside");
    Files.createDirectories(outside);
    for (String f : List.of("user.onnx", "score.onnx")) {
      Files.copy(base.resolve(f), outside.resolve(f));
    }
    String json = Files.readString(base.resolve("model.json"))
        .replace("\"user.onnx\"", "\"../" + base.getFileName() + "/user.onnx\"");
    Files.writeString(outside.resolve("model.json"), json.replaceAll("\"sha256\"\\s*:\\s*\\{[^}]*}", "\"sha256\": {}"));
    e = assertThrows(ModelContractException.class, () -> ModelSpec.read(outside));
    assertTrue(e.getMessage().contains("user.file names '../two-sided-d16/user.onnx', which is not a file name"),
        e.getMessage());
  }

  /** The two-tower model with {@code scoreBody} as the score network's forward(u_vec, user_idx, item_emb). */
  private Path twoTower(String name, String scoreBody) throws Exception {
    return TestData.exported(dir.resolve(name), name + "-1", 16, 8, USER_TOWER + """
        class Score(nn.Module):
            def input_names(self):
                return ["u_vec", "user_idx", "item_emb"]
            def forward(self, u_vec, user_idx, item_emb):
        """ + "        " + scoreBody + """

        class Model(nn.Module):
            arch = "test"
            def __init__(self):
                super().__init__()
                self.user, self.score = User(), Score()
        torch.manual_seed(1)
        model = Model()
        """);
  }

  @Test
  void scoresOfAnotherShapeOrTypeAreRefusedNamingTheTensor() throws Exception {
    ModelContractException twoColumns = assertThrows(ModelContractException.class, () -> OnnxModel.load(
        twoTower("two-columns", "return torch.stack([(u_vec[user_idx] * item_emb).sum(1), item_emb.sum(1)], dim=1)")));
    assertTrue(twoColumns.getMessage().contains("has shape [-1, 2]; the contract is one score per candidate row"),
        twoColumns.getMessage());
    ModelContractException doubles = assertThrows(ModelContractException.class, () -> OnnxModel.load(
        twoTower("doubles", "return (u_vec[user_idx] * item_emb).sum(1).double()")));
    assertTrue(doubles.getMessage().contains("has element type DOUBLE, the contract needs FLOAT"), doubles.getMessage());
    // one score per user, not per candidate: only a call shows it
    Path perUser = twoTower("per-user", "return u_vec.sum(1) + 0 * (item_emb.sum() + user_idx.sum())");
    int open = OnnxModel.openModels();
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxScorer.open(perUser, 1));
    assertTrue(e.getMessage().contains("of shape [1] for "), e.getMessage());
    assertEquals(open, OnnxModel.openModels(), "a model refused by its first call is closed, not left loaded");
  }

  /** A score network exported without a dynamic candidate axis is refused naming it, not by a failed call. */
  @Test
  void aFixedCandidateAxisIsRefusedWhenLoaded() throws Exception {
    Path base = TestData.model("two-sided", 16);
    Path fixed = dir.resolve("fixed-n");
    TestData.python("import hashlib, json, os, shutil, onnx\n"
        + "src, dst = " + TestData.pyString(base.toString()) + ", " + TestData.pyString(fixed.toString()) + "\n"
        + "shutil.copytree(src, dst)\n"
        + "m = onnx.load(os.path.join(dst, 'score.onnx'))\n"
        + "for i in m.graph.input:\n"
        + "    if i.name == 'item_emb':\n"
        + "        i.type.tensor_type.shape.dim[0].ClearField('dim_param')\n"
        + "        i.type.tensor_type.shape.dim[0].dim_value = 1\n"
        + "onnx.save_model(m, os.path.join(dst, 'score.onnx'))\n"
        + "spec = json.load(open(os.path.join(dst, 'model.json')))\n"
        + "spec['sha256']['score.onnx'] = hashlib.sha256(open(os.path.join(dst, 'score.onnx'), 'rb').read()).hexdigest()\n"
        + "json.dump(spec, open(os.path.join(dst, 'model.json'), 'w'))\n");
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(fixed));
    assertTrue(e.getMessage().contains("'item_emb' has a fixed first dimension (1); the candidate axis N must be dynamic"),
        e.getMessage());
  }

  @Test
  void scoresOfAnyScaleThatRankItemsPassTheCheck() throws Exception {
    Path small = twoTower("small", "return 1e-7 * (u_vec[user_idx] * item_emb).sum(1)");
    ModelCheck.Report report = ModelCheck.run(small, 64, 7);
    assertTrue(report.ok(), "problems: " + report.problems());
    Path constant = twoTower("constant", "return 0 * (item_emb.sum(1) + u_vec[user_idx].sum(1)) + 0.5");
    assertTrue(ModelCheck.run(constant, 64, 7).problems().stream().anyMatch(p -> p.contains("(near-)constant")));
  }

  @Test
  void aScoreNetworkForOneUserAtATimeIsServedWithoutMergedCalls() throws Exception {
    Path fixed = twoTower("one-user", "return (u_vec[user_idx] * item_emb).sum(1)");
    // its user state input pinned to one row, as an export with fixed shapes makes it
    TestData.python("import hashlib, json, os, onnx\n"
        + "d = " + TestData.pyString(fixed.toString()) + "\n"
        + "m = onnx.load(os.path.join(d, 'score.onnx'))\n"
        + "[i for i in m.graph.input if i.name == 'u_vec'][0].type.tensor_type.shape.dim[0].dim_value = 1\n"
        + "onnx.save_model(m, os.path.join(d, 'score.onnx'))\n"
        + "spec = json.load(open(os.path.join(d, 'model.json')))\n"
        + "spec['sha256']['score.onnx'] = hashlib.sha256(open(os.path.join(d, 'score.onnx'), 'rb').read()).hexdigest()\n"
        + "json.dump(spec, open(os.path.join(d, 'model.json'), 'w'))\n");
    ModelCheck.Report report = ModelCheck.run(fixed, 64, 7);
    assertTrue(report.ok(), "problems: " + report.problems());
    assertTrue(report.warnings().stream().anyMatch(w -> w.contains("batching.enabled off")), report.warnings().toString());
    try (OnnxScorer scorer = OnnxScorer.open(fixed, 1)) {
      ModelContractException e = assertThrows(ModelContractException.class, () -> new MicroBatchingScorer(scorer, 64, 100));
      assertTrue(e.getMessage().contains("turn batching.enabled off"), e.getMessage());
    }
  }

  @Test
  void aScoreNetworkThatIgnoresWhichUserARowIsForIsFlaggedForMergedCalls() throws Exception {
    // user_idx used, but not to pick the row's user: every row is scored for the first user of the call
    Path first = twoTower("first-user", "return (u_vec[user_idx * 0] * item_emb).sum(1)");
    ModelCheck.Report report = ModelCheck.run(first, 64, 7);
    assertTrue(report.ok(), "single-user calls serve it: " + report.problems());
    assertTrue(report.warnings().stream().anyMatch(w -> w.contains("does not pick each row's user state by user_idx")),
        report.warnings().toString());
    Path right = twoTower("right", "return (u_vec[user_idx] * item_emb).sum(1)");
    assertTrue(ModelCheck.run(right, 64, 7).passed().stream().anyMatch(p -> p.contains("a call of several users")));
  }
}
