package dev.nann;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import java.nio.file.Path;

/** Shared fixtures: the repository root, committed model directories, small seeded indexes. */
public final class TestData {
  private TestData() {
  }

  public static Path repo() {
    return Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();
  }

  /**
   * Exports a model written in PyTorch with the trainer's {@code export_model_dir}: {@code python}
   * defines {@code model} (torch and nn imported, {@code D} and {@code L} set), the export writes it
   * to {@code dir} under {@code version}.
   */
  public static Path exported(Path dir, String version, int d, int seqLen, String python) throws Exception {
    String script = "import torch\nfrom torch import nn\nfrom nann_trainer.export import export_model_dir\n"
        + "D, L = " + d + ", " + seqLen + "\n" + python + "\n"
        + "export_model_dir(" + pyString(dir.toString()) + ", model, None, dim=D, seq_len=L, item_feat_dim=0, version="
        + pyString(version) + ")\n";
    python(script);
    return dir;
  }

  /** Runs a Python script with the trainer on its path (torch and onnx importable). */
  public static void python(String script) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c", script).redirectErrorStream(true);
    pb.environment().put("PYTHONPATH", repo().resolve("trainer").toString());
    pb.environment().put("PYTHONWARNINGS", "ignore");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("python failed:\n" + out);
    }
  }

  /** {@code s} as a Python string literal. */
  public static String pyString(String s) {
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
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

  /** Writes {@code index} as a snapshot at {@code file} and returns the descriptor index-sync would publish for it. */
  public static IndexDescriptor publish(HnswIndex index, Path file) {
    HnswIndex written = SnapshotFormat.write(index, file);
    return IndexDescriptor.newBuilder().setVersion(index.meta().version()).setUri(file.toString())
        .setSha256(written.sha256()).setItems(index.size()).setDim(index.dim())
        .setCreatedAtMillis(System.currentTimeMillis()).build();
  }

  /**
   * A copy of the fixture model {@code arch}-d{@code d} in {@code dir/version}, its model.json
   * stamped with that version, and the descriptor publishing it (dim {@code d}, paired with
   * {@code indexVersion} when not null).
   */
  public static dev.nann.schemas.ModelDescriptor modelCopy(String arch, int d, Path dir, String version, Long indexVersion)
      throws java.io.IOException {
    Path dst = dir.resolve(version);
    java.nio.file.Files.createDirectories(dst);
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(model(arch, d))) {
      for (Path f : files.toList()) {
        java.nio.file.Files.copy(f, dst.resolve(f.getFileName()));
      }
    }
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode spec =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(dst.resolve("model.json").toFile());
    spec.put("version", version);
    json.writeValue(dst.resolve("model.json").toFile(), spec);
    return dev.nann.schemas.ModelDescriptor.newBuilder().setVersion(version).setUri(dst.toString())
        .setSha256(dev.nann.scorer.ModelSpec.sha256(dst.resolve("model.json"))).setItemDim(d)
        .setIndexVersion(indexVersion).build();
  }

  /** Nodes 0, n, 2n, ... below {@code size}. */
  public static java.util.BitSet everyNth(int size, int n) {
    java.util.BitSet nodes = new java.util.BitSet();
    for (int node = 0; node < size; node += n) {
      nodes.set(node);
    }
    return nodes;
  }

  /** {@code built} with the nodes of {@code dead} tombstoned, as an in-place build leaves deleted and moved items. */
  public static HnswIndex withTombstones(HnswIndex built, java.util.BitSet dead) {
    long[] ids = new long[built.size()];
    for (int node = 0; node < ids.length; node++) {
      ids[node] = built.itemId(node);
    }
    return new HnswIndex(built.meta(), built.graph(), built.embeddings(), java.nio.LongBuffer.wrap(ids), dead, null);
  }

  /** An engine on {@code modelDir} with the default beam and CPU scoring; snapshots and published models live under {@code dir}. */
  public static dev.nann.engine.EngineConfig engineConfig(Path modelDir, int walkers, Path dir) {
    return dev.nann.engine.EngineConfig.builder(modelDir.toString()).walkerThreads(walkers).hnswEf(200)
        .snapshotDir(dir.toString()).modelRoot(dir.toString()).allowBrute(true).provider("cpu", 0).build();
  }
}
