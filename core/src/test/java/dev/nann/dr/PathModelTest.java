package dev.nann.dr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.TestData;
import dev.nann.scorer.ScorerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The DR structure exported by the trainer's train-dr (./test.sh's smoke run writes one to
 * .cache/trained-smoke/dr): the Java beam search over the ONNX layers returns the same paths, with
 * the same log probabilities, as PyTorch's for the same users.
 */
class PathModelTest {
  /**
   * The user input is the mean of the most recent history_len items, as train-dr averaged histories
   * cut to the run's --seq-len; the state keeps more (state.max-sequence).
   */
  @Test
  void theUserInputIsTheMeanOfTheMostRecentHistoryLenItems() {
    float[] emb = {1, 0, 3, 0, 5, 2};   // three items of dim 2, oldest first
    dev.nann.scorer.UserFeatures f = new dev.nann.scorer.UserFeatures(new long[] {7, 8, 9}, emb, 2);
    assertArrayEquals(new float[] {4, 1}, PathModel.userVector(f, 2), 1e-6f);
    assertArrayEquals(new float[] {3, 2f / 3}, PathModel.userVector(f, 20), 1e-6f);
    assertArrayEquals(new float[] {0, 0}, PathModel.userVector(new dev.nann.scorer.UserFeatures(new long[0],
        new float[0], 2), 20), 0f);
  }

  @Test
  void javaBeamSearchMatchesPyTorch() throws IOException {
    Path dir = TestData.repo().resolve(".cache/trained-smoke/dr");
    Assumptions.assumeTrue(Files.exists(dir.resolve("reference.json")),
        "no DR export at " + dir + " (./test.sh trains one before the Java tests)");
    JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
    int userDim = ref.get("users").get(0).size();
    int beam = ref.get("beam").asInt();
    try (PathModel model = PathModel.load(dir, userDim)) {
      for (int u = 0; u < ref.get("users").size(); u++) {
        float[] user = new float[userDim];
        for (int j = 0; j < userDim; j++) {
          user[j] = (float) ref.get("users").get(u).get(j).asDouble();
        }
        PathModel.Beam got = model.beamSearch(user, beam);
        assertEquals(beam, got.paths().length);
        for (int b = 0; b < beam; b++) {
          int[] want = new int[model.depth()];
          for (int d = 0; d < want.length; d++) {
            want[d] = ref.get("paths").get(u).get(b).get(d).asInt();
          }
          assertArrayEquals(want, got.paths()[b], "user " + u + " path " + b);
          assertEquals(ref.get("logp").get(u).get(b).asDouble(), got.logp()[b], 1e-4);
        }
        assertFalse(model.items(got.paths()).isEmpty(), "the best paths hold items");
      }
      assertEquals((1 * 16 + 2) * 16 + 3, PathModel.code(new int[] {1, 2, 3}, 16));
    }
  }

  /**
   * A finite user vector far outside what the structure was trained on overflows its layers to NaN:
   * the search fails naming the structure instead of ranking NaN above every path; a non-finite
   * user vector is refused before the layers run.
   */
  @Test
  void refusesNaNFromTheLayersAndANonFiniteUser() throws IOException {
    Path dir = TestData.repo().resolve(".cache/trained-smoke/dr");
    Assumptions.assumeTrue(Files.exists(dir.resolve("reference.json")),
        "no DR export at " + dir + " (./test.sh trains one before the Java tests)");
    int userDim = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("users").get(0).size();
    try (PathModel model = PathModel.load(dir, userDim)) {
      float[] huge = new float[userDim];
      java.util.Arrays.fill(huge, 3e38f);
      ScorerException e = assertThrows(ScorerException.class, () -> model.beamSearch(huge, 5));
      // the reason reaches clients: it names the structure by its identity, not by a TaskManager's path
      assertTrue(e.getMessage().contains("returned NaN") && e.getMessage().contains(model.structure().toString())
          && !e.getMessage().contains(dir.toString()), e.getMessage());
      float[] nan = new float[userDim];
      nan[0] = Float.NaN;
      e = assertThrows(ScorerException.class, () -> model.beamSearch(nan, 5));
      assertTrue(e.getMessage().contains("not finite"), e.getMessage());
      float[] ordinary = new float[userDim];
      assertEquals(5, model.beamSearch(ordinary, 5).paths().length, "the next user is served");
      e = assertThrows(ScorerException.class, () -> model.beamSearch(new float[userDim * 2], 5));
      assertTrue(e.getMessage().contains("takes user vectors of " + userDim), e.getMessage());
    }
  }

  /**
   * Layers that do not fit the job are refused when loaded, not on every mode dr request: user
   * vectors of another dimension (a structure trained for another model), or K in dr.json other than
   * the layers' outputs.
   */
  @Test
  void refusesLayersThatDoNotFitWhenLoaded(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
    Path dir = TestData.repo().resolve(".cache/trained-smoke/dr");
    Assumptions.assumeTrue(Files.exists(dir.resolve("reference.json")),
        "no DR export at " + dir + " (./test.sh trains one before the Java tests)");
    int userDim = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("users").get(0).size();
    dev.nann.scorer.ModelContractException e = assertThrows(dev.nann.scorer.ModelContractException.class,
        () -> PathModel.load(dir, userDim * 2));
    assertTrue(e.getMessage().contains("does not fit this job") && e.getMessage().contains(dir.toString()),
        e.getMessage());

    Path otherK = tmp.resolve("dr");
    Files.createDirectories(otherK);
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.copy(f, otherK.resolve(f.getFileName()));
      }
    }
    com.fasterxml.jackson.databind.node.ObjectNode json =
        (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(otherK.resolve("dr.json").toFile());
    json.put("width", json.get("width").asInt() + 1);
    new ObjectMapper().writeValue(otherK.resolve("dr.json").toFile(), json);
    e = assertThrows(dev.nann.scorer.ModelContractException.class, () -> PathModel.load(otherK, userDim));
    assertTrue(e.getMessage().contains("does not match the structure's K"), e.getMessage());
  }
}
