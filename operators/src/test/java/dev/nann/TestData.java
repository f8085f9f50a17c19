package dev.nann;

import dev.nann.eval.Corpus;
import dev.nann.eval.SyntheticCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import java.nio.file.Path;

/** Shared fixtures: the repository root, committed model directories, small seeded indexes. */
public final class TestData {
  private TestData() {
  }

  public static Path repo() {
    return Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();
  }

  /** A committed fixture model directory, e.g. {@code model("attention", 16)}. */
  public static Path model(String arch, int dim) {
    return repo().resolve("models/fixtures").resolve(arch + "-d" + dim);
  }

  public static Corpus corpus(int items, int dim, long seed) {
    return SyntheticCorpus.generate(items, dim, 20, seed);
  }

  public static HnswIndex index(Corpus c, int m) {
    return new HnswIndexBuilder().m(m).efConstruction(64).seed(3).build(c.embeddings(), c.dim(), c.itemIds());
  }
}
