package dev.nann.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Finds (or makes, with the trainer's fixture script) the model directory for {@code --arch} and {@code --dim}. */
final class ModelLocator {
  private ModelLocator() {
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("nann.repo", ".")).toAbsolutePath().normalize();
  }

  static Path forArch(String arch, int dim, Path cache) {
    if (!List.of("two-sided", "dnn", "attention", "attention-rbf").contains(arch)) {
      throw new IllegalArgumentException("unknown --arch '" + arch + "'; use two-sided, dnn, attention or attention-rbf");
    }
    String name = arch + "-d" + dim;
    Path shipped = repoRoot().resolve("models/fixtures").resolve(name);
    if (Files.isRegularFile(shipped.resolve("model.json"))) {
      return shipped;
    }
    Path made = cache.resolve("models").resolve(name);
    if (Files.isRegularFile(made.resolve("model.json"))) {
      return made;
    }
    System.err.println("[nann] no fixture model " + name + "; generating it with ./nann trainer make-models");
    try {
      ProcessBuilder trainer = new ProcessBuilder("/usr/bin/python3", "-m", "nann_trainer", "make-models",
          "--out", cache.resolve("models").toString(), "--dim", String.valueOf(dim)).inheritIO();
      trainer.environment().put("PYTHONPATH", repoRoot().resolve("trainer").toString());
      Process p = trainer.start();
      if (p.waitFor() != 0 || !Files.isRegularFile(made.resolve("model.json"))) {
        throw new IllegalArgumentException("could not generate model " + name + " (needs /usr/bin/python3 with "
            + "python3-torch and python3-onnx); run ./nann trainer make-models --dim " + dim + " or pass --model DIR");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("could not run the trainer to make model " + name + ": " + e.getMessage()
          + "; pass --model DIR instead", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return made;
  }
}
