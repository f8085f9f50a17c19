package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotFormat;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The HNSW snapshots {@code ./nann eval} walks, kept in a directory under a key of the corpus and the
 * build parameters: a sweep of widths, budgets or models over one corpus builds its graph once. Each
 * snapshot is read back through {@link SnapshotFormat#read}, so it is verified like the ones serving
 * loads. Progress goes to the log as {@code [build]} lines.
 */
public final class SnapshotCache {
  private final Path dir;
  private final int m;
  private final int efConstruction;
  private final long seed;
  private final int buildThreads;
  private final PrintStream log;

  public SnapshotCache(Path dir, int m, int efConstruction, long seed, int buildThreads, PrintStream log) {
    this.dir = dir;
    this.m = m;
    this.efConstruction = efConstruction;
    this.seed = seed;
    this.buildThreads = buildThreads;
    this.log = log;
  }

  /**
   * The snapshot of {@code c}'s graph, built and written first when the cache lacks it.
   *
   * @param itemsHash {@code Arrays.hashCode(c.embeddings())}, which the caller already has
   */
  public HnswIndex buildOrLoad(Corpus c, int itemsHash) throws IOException {
    Path file = dir.resolve(key(c, itemsHash) + ".nann");
    if (!Files.exists(file)) {
      build(c, file);
    }
    long t0 = System.nanoTime();
    HnswIndex index = SnapshotFormat.read(file);
    log.printf("[build] snapshot loaded and verified (SHA-256 %s…) in %.2f s: %d items, %d levels%n",
        index.sha256().substring(0, 12), (System.nanoTime() - t0) / 1e9, index.size(), index.graph().levels());
    StringBuilder levels = new StringBuilder("[build] nodes / mean degree per level:");
    for (int l = 0; l < index.graph().levels(); l++) {
      int size = index.graph().levelSize(l);
      levels.append(String.format(" L%d %d / %.1f", l, size, size == 0 ? 0.0 : index.graph().edgeCount(l) / (double) size));
    }
    log.println(levels);
    return index;
  }

  private String key(Corpus c, int itemsHash) {
    // the ids too: a corpus rewritten under its name with the same vectors but other ids must not reuse
    // a snapshot that answers with the old ones
    String what = c.name() + "|" + itemsHash + "|ids" + java.util.Arrays.hashCode(c.itemIds()) + "|M" + m + "|efc" + efConstruction + "|seed" + seed
        + "|order2";   // order2: nodes grouped by top level (HnswIndexBuilder.nodeOrder); older snapshots are rebuilt
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(what.getBytes(StandardCharsets.UTF_8)))
          .substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM lacks SHA-256", e);
    }
  }

  private void build(Corpus c, Path file) throws IOException {
    log.printf("[build] HNSW over %d x %d (M=%d, efConstruction=%d, %d threads)%n", c.size(), c.dim(), m,
        efConstruction, buildThreads);
    long t0 = System.nanoTime();
    long[] last = {0};
    HnswIndex built = new HnswIndexBuilder().m(m).efConstruction(efConstruction).seed(seed).threads(buildThreads)
        .progress(done -> {
          long now = System.nanoTime();
          if (now - last[0] > 5_000_000_000L || done == c.size()) {
            last[0] = now;
            log.printf("[build] %d/%d nodes (%.0f%%), %.0f s%n", done, c.size(), 100.0 * done / c.size(),
                (now - t0) / 1e9);
          }
        })
        .build(c.embeddings(), c.dim(), c.itemIds());
    double buildS = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();
    SnapshotFormat.write(built, file);
    log.printf("[build] built in %.1f s, peak RSS %s, snapshot %s (%.1f MB) written in %.1f s%n", buildS,
        peakRss(), file, Files.size(file) / 1e6, (System.nanoTime() - t1) / 1e9);
  }

  /** This process's peak resident memory as Linux reports it ({@code VmHWM}), or "n/a". */
  public static String peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return line.substring(6).trim();
        }
      }
    } catch (IOException ignored) {
      // not Linux: fall through
    }
    return "n/a";
  }
}
