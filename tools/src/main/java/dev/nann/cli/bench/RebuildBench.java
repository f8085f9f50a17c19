package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import dev.nann.cli.JsonLines;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.lucene.codecs.hnsw.DefaultFlatVectorScorer;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.util.hnsw.HnswGraphBuilder;
import org.apache.lucene.util.hnsw.RandomAccessVectorValues;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench rebuild}: a full rebuild of N + K items (what index-sync does) against adding
 * K nodes to a Lucene graph of N already built, plus the snapshot write and verified read that
 * either way needs.
 */
@Command(name = "rebuild", mixinStandardHelpOptions = true,
    description = "Full HNSW rebuild vs adding nodes to a built graph, and the snapshot write + verified read.")
public final class RebuildBench implements Callable<Integer> {
  @Option(names = "--items", description = "items already in the graph (default: ${DEFAULT-VALUE})")
  int items = 100_000;

  @Option(names = "--added", description = "items added to the existing graph (default: ${DEFAULT-VALUE})")
  int added = 1_000;

  @Option(names = "--dim", description = "embedding dimension (default: ${DEFAULT-VALUE})")
  int dim = 64;

  @Option(names = "--json", description = "also append JSON lines to this file")
  Path json;

  @Override
  public Integer call() throws Exception {
    int total = items + added;
    System.err.printf("[bench] rebuild: %,d + %,d items x %d%n", items, added, dim);
    Corpus c = SyntheticCorpus.generate(total, dim, 1, 7);
    float[] emb = c.embeddings();
    List<float[]> vectors = new ArrayList<>(total);
    for (int i = 0; i < total; i++) {
      vectors.add(Arrays.copyOfRange(emb, i * dim, (i + 1) * dim));
    }
    var scorers = DefaultFlatVectorScorer.INSTANCE.getRandomVectorScorerSupplier(VectorSimilarityFunction.EUCLIDEAN,
        RandomAccessVectorValues.fromFloats(vectors, dim));
    var lucene = HnswGraphBuilder.create(scorers, 32, 40, 1, total);
    long t0 = System.nanoTime();
    lucene.build(items);
    double baseS = (System.nanoTime() - t0) / 1e9;
    t0 = System.nanoTime();
    for (int i = items; i < total; i++) {
      lucene.addGraphNode(i);
    }
    double addS = (System.nanoTime() - t0) / 1e9;
    List<String> lines = new ArrayList<>();
    lines.add(JsonLines.line(JsonLines.object().put("bench", "rebuild").put("what", "lucene-add").put("items", items)
        .put("added", added).put("dim", dim).put("threads", 1).put("base_build_s", round(baseS, 2))
        .put("add_s", round(addS, 3)).put("add_per_item_ms", round(addS * 1000 / added, 3))));
    System.out.println(lines.get(0));
    Path tmp = Files.createTempDirectory("nann-rebuild");
    for (int threads : new int[] {1, 2}) {
      t0 = System.nanoTime();
      HnswIndex built = new HnswIndexBuilder().m(32).efConstruction(40).threads(threads).seed(1).version(1)
          .build(emb, dim, c.itemIds());
      double buildS = (System.nanoTime() - t0) / 1e9;
      t0 = System.nanoTime();
      Path f = tmp.resolve("index-" + threads + ".nann");
      SnapshotFormat.write(built, f);
      SnapshotFormat.read(f).onHeap();
      double writeS = (System.nanoTime() - t0) / 1e9;
      String line = JsonLines.line(JsonLines.object().put("bench", "rebuild").put("what", "full-rebuild")
          .put("items", total).put("dim", dim).put("threads", threads).put("build_s", round(buildS, 2))
          .put("snapshot_write_read_s", round(writeS, 2)));
      System.out.println(line);
      lines.add(line);
      Files.delete(f);
    }
    Files.delete(tmp);
    JsonLines.append(json, lines);
    return 0;
  }
}
