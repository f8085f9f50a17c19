package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./nann check-model}'s checks on the trainer's real exports, good and damaged. */
class ModelCheckTest {
  @Test
  void everyArchitectureTheTrainerMakesPasses() {
    for (String arch : List.of("two-sided", "dnn", "attention", "attention-rbf")) {
      ModelCheck.Report r = ModelCheck.run(TestData.model(arch, 16), 500, 1);
      assertTrue(r.ok(), arch + ": " + r.problems());
      assertTrue(r.passed().stream().anyMatch(l -> l.startsWith("an item's score does not depend on its batch")), arch);
      assertTrue(r.passed().stream().anyMatch(l -> l.startsWith("scores differ across items")), arch);
      assertTrue(r.itemsPerSecond() > 0, arch + ": the scoring rate a fresh set's cost is priced at");
    }
  }

  @Test
  void aModelNotDefinedEverywhereIsAProblemForEachUserItFails() {
    // the trainer's undefined-d16: NaN for items with a negative first component, and for an empty history
    ModelCheck.Report r = ModelCheck.run(TestData.model("undefined", 16), 500, 1);
    assertFalse(r.ok());
    assertTrue(r.itemsPerSecond() == 0, "no rate for a model serving refuses");
    assertTrue(r.problems().stream().anyMatch(p -> p.startsWith("a user with history: the score network")
        && p.contains("returned NaN for")), r.problems().toString());
    assertTrue(r.problems().stream().anyMatch(p -> p.startsWith("a cold-start user (empty history): the user network")
        && p.contains("history of 0 items")), r.problems().toString());
  }

  @Test
  void aCorruptFileIsAProblemNamingIt(@TempDir Path dir) throws Exception {
    try (Stream<Path> files = Files.list(TestData.model("dnn", 16))) {
      for (Path f : files.toList()) {
        Files.copy(f, dir.resolve(f.getFileName()));
      }
    }
    byte[] b = Files.readAllBytes(dir.resolve("score.onnx"));
    b[b.length / 2] ^= 0x55;
    Files.write(dir.resolve("score.onnx"), b);
    ModelCheck.Report r = ModelCheck.run(dir, 100, 1);
    assertFalse(r.ok());
    assertTrue(r.problems().get(0).contains("score.onnx") && r.problems().get(0).contains("SHA-256"), r.problems().toString());
  }

  @Test
  void aMissingDirectoryIsAProblemNotACrash(@TempDir Path dir) {
    ModelCheck.Report r = ModelCheck.run(dir.resolve("nowhere"), 100, 1);
    assertFalse(r.ok());
    assertTrue(r.problems().get(0).contains("model.json"), r.problems().toString());
  }
}
