package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** ONNX Runtime scores against the PyTorch reference values written by the trainer's make-models. */
class OnnxScorerTest {
  @TempDir
  Path tmp;

  static Stream<Arguments> fixtures() {
    return Stream.of("two-sided", "dnn", "attention", "attention-rbf").flatMap(a -> Stream.of(Arguments.of(a, 16), Arguments.of(a, 64)));
  }

  static float[] floats(JsonNode arr) {
    float[] out = new float[arr.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) arr.get(i).asDouble();
    }
    return out;
  }

  @ParameterizedTest(name = "{0} d={1}")
  @MethodSource("fixtures")
  void scoresMatchPyTorchReference(String arch, int dim) throws IOException {
    matchesReference(TestData.model(arch, dim), arch, dim, 1e-4);
  }

  /** fp16 exports (make-models --precision fp16) against the fp32 PyTorch scores, to half precision. */
  @ParameterizedTest(name = "{0} fp16")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"two-sided", "dnn", "attention", "attention-rbf"})
  void fp16ModelsMatchTheFp32ReferenceToHalfPrecision(String arch) throws IOException {
    Path dir = TestData.model(arch, 16).resolveSibling(arch + "-d16-fp16");
    assertEquals("fp16", ModelSpec.read(dir).precision());
    matchesReference(dir, arch, 16, 2e-2);
  }

  /**
   * Models trained and exported by the trainer's train command (test.sh's smoke run writes them to
   * .cache/trained-smoke/ARCH/model): ONNX Runtime gives the PyTorch scores and item embeddings.
   */
  @Test
  void trainedModelsMatchPyTorch() throws IOException {
    Path root = TestData.repo().resolve(".cache/trained-smoke");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(root),
        "no trained models at " + root + " (./test.sh trains them before the Java tests)");
    List<Path> dirs;
    try (Stream<Path> s = Files.list(root)) {
      dirs = s.map(p -> p.resolve("model")).filter(p -> Files.exists(p.resolve("reference.json"))).sorted().toList();
    }
    assertFalse(dirs.isEmpty(), "no trained model under " + root);
    for (Path dir : dirs) {
      ModelSpec spec = ModelSpec.read(dir);
      matchesReference(dir, spec.arch(), spec.itemDim(), 1e-4);
    }
  }

  private static void matchesReference(Path dir, String arch, int dim, double tolerance) throws IOException {
    JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
    try (OnnxModel model = OnnxModel.load(dir)) {
      OnnxScorer scorer = new OnnxScorer(model);
      assertEquals(dim, scorer.itemDim());
      ScoreBatch batch = scorer.newBatch();
      for (JsonNode u : ref.get("users")) {
        int len = u.get("length").asInt();
        UserFeatures f = new UserFeatures(new long[len], floats(u.get("seq_emb")), dim);
        float[] items = floats(u.get("items"));
        float[] expected = floats(u.get("scores"));
        for (int i = 0; i < expected.length; i++) {
          batch.putRow(i, items, i * dim);
        }
        try (UserState state = scorer.user(f)) {
          scorer.score(state, batch, expected.length);
          for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], batch.scores()[i], tolerance * Math.max(1, Math.abs(expected[i])), arch + " item " + i);
            // the ranking is in the differences: a score far from 0 (checked above relative to its
            // size) may still have lost what tells one item from the next
            double gap = expected[i] - expected[0];
            assertEquals(gap, batch.scores()[i] - batch.scores()[0], tolerance * Math.max(1, Math.abs(gap)),
                arch + " item " + i + " against item 0, history of " + len);
          }
        }
        if (arch.equals("two-sided")) {
          InnerProductScorer ip = new InnerProductScorer(model);
          try (UserState state = ip.user(f)) {
            ScoreBatch b = ip.newBatch();
            for (int i = 0; i < expected.length; i++) {
              b.putRow(i, items, i * dim);
            }
            ip.score(state, b, expected.length);
            for (int i = 0; i < expected.length; i++) {
              assertEquals(expected[i], b.scores()[i], tolerance * Math.max(1, Math.abs(expected[i])));
            }
          }
        }
      }
      float[] emb = model.itemEmbeddings(floats(ref.get("item_feat")), 3);
      float[] want = floats(ref.get("item_emb"));
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], emb[i], tolerance * Math.max(1, Math.abs(want[i])));
      }
    }
  }

  @Test
  void aScorerWhoseBatchCannotBeAllocatedClosesTheModelItOwns() {
    OnnxModel model = OnnxModel.load(TestData.model("two-sided", 16));
    int open = OnnxModel.openModels();
    // 2^25 rows of 16 floats: past what one direct buffer holds; the model's sessions leaked before
    assertThrows(IllegalArgumentException.class, () -> new OnnxScorer(model, ShapeGrid.unpadded(1 << 25), true));
    assertEquals(open - 1, OnnxModel.openModels(), "the refused scorer's model is closed");
  }

  @Test
  void paddingDoesNotChangeScores() {
    try (OnnxModel model = OnnxModel.load(TestData.model("attention", 16))) {
      OnnxScorer padded = new OnnxScorer(model, ShapeGrid.defaults(), false);
      OnnxScorer unpadded = new OnnxScorer(model, ShapeGrid.unpadded(8192), false);
      ScoreBatch batch = padded.newBatch();
      float[] rows = gaussianRows(batch, 300, 3);
      try (UserState u = padded.user(new UserFeatures(new long[] {1, 2}, java.util.Arrays.copyOf(rows, 32), 16))) {
        padded.score(u, batch, 300);                   // padded to a grid size > 300
        float[] all = batch.scores().clone();
        for (int n : new int[] {1, 17, 37, 300}) {
          padded.score(u, batch, n);                   // 1 and 17 padded to 16 and 24: same first rows
          for (int i = 0; i < n; i++) {
            assertEquals(all[i], batch.scores()[i], 1e-5, "padded, " + n + " rows, row " + i);
          }
          unpadded.score(u, batch, n);                 // n rows as they are
          for (int i = 0; i < n; i++) {
            assertEquals(all[i], batch.scores()[i], 1e-5, "unpadded, " + n + " rows, row " + i);
          }
        }
      }
    }
  }

  @Test
  void scoresWrittenInPlaceEqualTheRuntimesOwnOutput() throws Exception {
    for (String arch : new String[] {"two-sided", "dnn", "attention"}) {
      try (OnnxModel model = OnnxModel.load(TestData.model(arch, 16))) {
        OnnxScorer scorer = new OnnxScorer(model);
        ScoreBatch batch = scorer.newBatch();
        float[] rows = gaussianRows(batch, 300, 5);
        try (UserState u = scorer.user(new UserFeatures(new long[] {3, 4}, java.util.Arrays.copyOf(rows, 32), 16))) {
          for (int n : new int[] {1, 17, 300}) {
            scorer.score(u, batch, n);
            float[] expected = runtimeOutput(model, (OnnxScorer.OnnxUserState) u, batch, n);
            for (int i = 0; i < n; i++) {
              assertEquals(expected[i], batch.scores()[i], 0f, arch + ", " + n + " rows, row " + i);
            }
          }
        }
      }
    }
  }

  /** Fills the batch's first {@code n} rows (d = 16) with seeded Gaussian values and returns them. */
  private static float[] gaussianRows(ScoreBatch batch, int n, long seed) {
    java.util.Random rnd = new java.util.Random(seed);
    float[] rows = new float[n * 16];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = (float) rnd.nextGaussian();
    }
    for (int i = 0; i < n; i++) {
      batch.putRow(i, rows, i * 16);
    }
    return rows;
  }

  /** The score network's output for rows [0, n) as the runtime allocates and returns it (nothing pinned). */
  private static float[] runtimeOutput(OnnxModel model, OnnxScorer.OnnxUserState u, ScoreBatch batch, int n)
      throws ai.onnxruntime.OrtException {
    ModelSpec s = model.spec();
    java.util.Map<String, ai.onnxruntime.OnnxTensor> inputs = new java.util.HashMap<>(u.tensors());
    try (ai.onnxruntime.OnnxTensor items = ai.onnxruntime.OnnxTensor.createTensor(model.env(),
        batch.items().duplicate().position(0).limit(n * 16).slice(), new long[] {n, 16});
         ai.onnxruntime.OnnxTensor idx = ai.onnxruntime.OnnxTensor.createTensor(model.env(),
             java.nio.LongBuffer.wrap(new long[n]), new long[] {n})) {
      inputs.put(s.itemEmbName(), items);
      inputs.put(s.userIdxName(), idx);
      try (ai.onnxruntime.OrtSession.Result r = model.scoreSession().run(inputs)) {
        float[] out = new float[n];
        ((ai.onnxruntime.OnnxTensor) r.get(0)).getFloatBuffer().get(out);
        return out;
      }
    }
  }

  @Test
  void theRowAxisOfTheScoreOutputIsFoundOrRefused() {
    assertEquals(0, OnnxScorer.rowAxis(new long[] {3}, 3));
    assertEquals(0, OnnxScorer.rowAxis(new long[] {3, 1}, 3));
    assertEquals(1, OnnxScorer.rowAxis(new long[] {1, 3}, 3));
    assertEquals(-1, OnnxScorer.rowAxis(new long[] {3, 2}, 3), "two scores a row: not pinned");
    assertEquals(-1, OnnxScorer.rowAxis(new long[] {6}, 3), "not one score a row: not pinned");
  }

  @Test
  void shapeGridPadsUpAndRejectsOversize() {
    ShapeGrid g = ShapeGrid.defaults();
    assertEquals(16, g.padTo(1));
    assertEquals(16, g.padTo(16));
    assertTrue(g.padTo(17) >= 17 && g.padTo(17) <= 24);
    assertEquals(8192, g.padTo(8000));
    for (int n = 1; n <= 8192; n += 37) {
      int p = g.padTo(n);
      assertTrue(p >= n && p <= Math.max(16, n * 1.2 + 8), n + " -> " + p);
    }
    assertThrows(IllegalArgumentException.class, () -> g.padTo(8193));
    ShapeGrid none = ShapeGrid.unpadded(8192);
    assertEquals(37, none.padTo(37));
    assertEquals(1, none.padTo(1));
    assertThrows(IllegalArgumentException.class, () -> none.padTo(8193));
    assertFalse(ShapeGrid.forProvider("CPU").padded(), "the CPU provider runs any batch size as it is");
    assertTrue(ShapeGrid.forProvider("CUDA:0").padded(), "a GPU sees only the grid's shapes");
  }

  private Path copyFixture(String arch, int dim) throws IOException {
    Path src = TestData.model(arch, dim);
    Path dst = tmp.resolve(arch + "-" + dim);
    Files.createDirectories(dst);
    try (Stream<Path> files = Files.list(src)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.copy(p, dst.resolve(p.getFileName()));
      }
    }
    return dst;
  }

  private static void edit(Path dir, String from, String to) throws IOException {
    Path json = dir.resolve("model.json");
    Files.writeString(json, Files.readString(json).replace(from, to));
  }

  @Test
  void wrongTensorNameIsNamed() throws IOException {
    Path dir = copyFixture("attention", 16);
    edit(dir, "\"item_emb\": \"item_emb\"", "\"item_emb\": \"candidates\"");
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("'candidates'") && e.getMessage().contains("score.onnx"), e.getMessage());
  }

  @Test
  void wrongDimensionIsNamed() throws IOException {
    Path dir = copyFixture("dnn", 16);
    edit(dir, "\"item_dim\": 16", "\"item_dim\": 32");
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("dimension") && e.getMessage().contains("32"), e.getMessage());
  }

  @Test
  void missingOrSwappedFilesAreNamed() throws IOException {
    // the optional item network too: a half-copied directory must not load with none
    Path dir = copyFixture("dnn", 16);
    Files.delete(dir.resolve("item.onnx"));
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("lacks item.onnx (listed in model.json)"), e.getMessage());
    Files.copy(TestData.model("dnn", 16).resolve("item.onnx"), dir.resolve("item.onnx"));
    Files.delete(dir.resolve("score.onnx"));
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("lacks score.onnx"), e.getMessage());
    Files.copy(dir.resolve("user.onnx"), dir.resolve("score.onnx"));
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("score.onnx has SHA-256") && e.getMessage().contains("model.json lists"),
        e.getMessage());
    // without checksums in model.json the contract check still names the swapped file
    dropChecksums(dir);
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("score.onnx") && e.getMessage().contains("has no input"), e.getMessage());
    Files.writeString(dir.resolve("score.onnx"), "not an onnx file");
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("not a loadable ONNX model"), e.getMessage());
  }

  @Test
  void aChecksumListedForAFileOutsideTheDirectoryIsRefused() throws IOException {
    Path dir = copyFixture("dnn", 16);
    edit(dir, "\"item.onnx\":", "\"../../outside.onnx\":");
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("sha256 names '../../outside.onnx', which is not a file name in the model directory"),
        e.getMessage());
  }

  @Test
  void sizesBeyondWhatServingCanHoldAreRefusedBeforeAnythingIsSized() throws IOException {
    Path dir = copyFixture("dnn", 16);
    edit(dir, "\"item_dim\": 16", "\"item_dim\": 524289");   // 8192 rows x d x 4 bytes would wrap an int
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("item_dim must be at most 16384"), e.getMessage());
  }

  @Test
  void aPinnedLoadChecksTheBytesItParses() throws IOException {
    // a descriptor pins model.json; the load checks the pin on the bytes it parses, so a file rewritten
    // after the catalogue's own check is refused rather than served under the old pin
    Path dir = copyFixture("dnn", 16);
    String pin = ModelSpec.sha256(dir.resolve("model.json"));
    try (OnnxModel m = OnnxModel.load(dir, ScorerRuntime.cpu(1), pin)) {
      assertEquals(16, m.spec().itemDim());
    }
    edit(dir, "\"arch\": \"dnn\"", "\"arch\": \"dnn-rewritten\"");
    ModelContractException e = assertThrows(ModelContractException.class,
        () -> OnnxModel.load(dir, ScorerRuntime.cpu(1), pin));
    assertTrue(e.getMessage().contains("but its descriptor says " + pin), e.getMessage());
  }

  @Test
  void corruptOnnxFileFailsItsChecksum() throws IOException {
    Path dir = copyFixture("attention", 16);
    byte[] bytes = Files.readAllBytes(dir.resolve("user.onnx"));
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(dir.resolve("user.onnx"), bytes);
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("user.onnx has SHA-256") && e.getMessage().contains("corrupt"), e.getMessage());
  }

  @Test
  void autoProviderFallsBackToCpuAndCudaFailsFastWithoutAGpu() {
    org.junit.jupiter.api.Assumptions.assumeFalse(gpuPresent(), "a GPU is present; the CUDA path is measured instead");
    Path dir = TestData.model("dnn", 16);
    try (OnnxModel m = OnnxModel.load(dir, new ScorerRuntime(ScorerRuntime.Provider.AUTO, 0, 1))) {
      assertEquals("CPU", m.provider());
    }
    ScorerException e = assertThrows(ScorerException.class,
        () -> OnnxModel.load(dir, new ScorerRuntime(ScorerRuntime.Provider.CUDA, 0, 1)));
    assertTrue(e.getMessage().contains("cannot run on CUDA device 0") && e.getMessage().contains("auto"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ScorerRuntime.Provider.parse("tpu"));
  }

  private static boolean gpuPresent() {
    return Files.exists(Path.of("/dev/nvidia0"));
  }

  private static void dropChecksums(Path dir) throws IOException {
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode spec =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(dir.resolve("model.json").toFile());
    spec.remove("sha256");
    json.writeValue(dir.resolve("model.json").toFile(), spec);
  }

  @Test
  void brokenModelJsonIsNamed() throws IOException {
    Path dir = copyFixture("dnn", 16);
    edit(dir, "\"source\": \"behavior_mask\"", "\"source\": \"clicks\"");
    ModelContractException e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("unknown source 'clicks'"), e.getMessage());
    Files.writeString(dir.resolve("model.json"), "{ not json");
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(dir));
    assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(tmp.resolve("nowhere")));
    assertTrue(e.getMessage().contains("no model.json"), e.getMessage());
    // an item network's input width other than model.json's item_feat_dim: at load, not on the first call
    Path wide = copyFixture("two-sided", 16);
    edit(wide, "\"item_feat_dim\": 32", "\"item_feat_dim\": 33");
    dropChecksums(wide);
    e = assertThrows(ModelContractException.class, () -> OnnxModel.load(wide));
    assertTrue(e.getMessage().contains("item.onnx: 'item_feat' dimension 1 is 32"), e.getMessage());
  }

  @Test
  void userFeaturesRejectNonFiniteAndMismatchedInput() {
    assertThrows(IllegalArgumentException.class, () -> new UserFeatures(new long[] {1}, new float[] {Float.NaN, 0}, 2));
    assertThrows(IllegalArgumentException.class, () -> new UserFeatures(new long[] {1, 2}, new float[2], 2));
    try (OnnxModel model = OnnxModel.load(TestData.model("dnn", 16))) {
      OnnxScorer scorer = new OnnxScorer(model);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> scorer.user(new UserFeatures(new long[] {1}, new float[8], 8)));
      assertTrue(e.getMessage().contains("dim 8"), e.getMessage());
    }
  }
}
