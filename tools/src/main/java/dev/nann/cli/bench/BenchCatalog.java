package dev.nann.cli.bench;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.scorer.ModelSpec;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Shared options of the load benchmarks: the synthetic catalogue and the model that scores it. */
public final class BenchCatalog {
  @Option(names = "--items", description = "synthetic catalog size (default: ${DEFAULT-VALUE})")
  int items = 100_000;

  @Option(names = "--users", description = "users with behaviour histories (default: ${DEFAULT-VALUE})")
  int users = 2_000;

  @Option(names = "--model", description = "model directory (default: models/fixtures/attention-d64)")
  Path model;

  /** The model directory to serve. */
  Path modelDir() {
    return model != null ? model : repo().resolve("models/fixtures/attention-d64");
  }

  /** Items of the model's dimension and users with behaviour, seeded. */
  Corpus corpus() {
    int dim = ModelSpec.read(modelDir()).itemDim();
    System.err.printf("[bench] generating %,d items x %d and %,d users%n", items, dim, users);
    return SyntheticCorpus.generate(items, dim, users, 7);
  }

  static Path repo() {
    return Path.of(System.getProperty("nann.repo", "."));
  }
}
