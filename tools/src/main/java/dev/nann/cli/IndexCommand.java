package dev.nann.cli;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.eval.SnapshotCache;
import dev.nann.graph.SnapshotStore;
import dev.nann.indexsync.SnapshotPublisher;
import dev.nann.schemas.IndexDescriptor;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nann index build}: one offline run of the index-sync step (build, write, verify, describe). */
@Command(name = "index", mixinStandardHelpOptions = true, description = "Index snapshot tools.",
    subcommands = {IndexCommand.Build.class})
public final class IndexCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Builds a verified snapshot of a synthetic corpus and prints its descriptor. */
  @Command(name = "build", mixinStandardHelpOptions = true,
      description = "Builds an HNSW snapshot, reads it back to verify it, and prints its descriptor (JSON).")
  static final class Build implements Callable<Integer> {
    @Option(names = "--items", defaultValue = "100000", description = "Synthetic items. Default: ${DEFAULT-VALUE}")
    int items;

    @Option(names = "--dim", defaultValue = "64", description = "Dimension. Default: ${DEFAULT-VALUE}")
    int dim;

    @Option(names = "--snapshot-version", defaultValue = "0",
        description = "Snapshot version; 0 (the default): the next one free in --out. A version names one file only: "
            + "one already there is refused.")
    long version;

    @Option(names = "--m", defaultValue = "32", description = "HNSW M. Default: ${DEFAULT-VALUE}")
    int m;

    @Option(names = "--ef-construction", defaultValue = "40", description = "HNSW efConstruction. Default: ${DEFAULT-VALUE}")
    int efConstruction;

    @Option(names = "--threads", defaultValue = "2", description = "Build threads. Default: ${DEFAULT-VALUE}")
    int threads;

    @Option(names = "--seed", defaultValue = "42", description = "Corpus and build seed. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--out", defaultValue = ".nann-cache/index", description = "Snapshot directory. Default: ${DEFAULT-VALUE}")
    Path out;

    @Override
    public Integer call() {
      long[] taken = SnapshotStore.versionsIn(out);   // newest first
      if (version == 0) {
        version = taken.length == 0 ? 1 : taken[0] + 1;
      } else if (version < 0 || java.util.Arrays.stream(taken).anyMatch(v -> v == version)) {
        System.err.printf("[build] version %d %s: pass another --snapshot-version, or leave it out for the next free one (%d)%n",
            version, version < 0 ? "is negative" : "is already in " + out, taken.length == 0 ? 1 : taken[0] + 1);
        return 2;
      }
      Corpus c = SyntheticCorpus.generate(items, dim, 0, seed);
      long t0 = System.nanoTime();
      IndexDescriptor d = new SnapshotPublisher(out, m, efConstruction, threads).publish(version, c.embeddings(), dim,
          c.itemIds(), seed, done -> System.err.printf("[build] %d/%d nodes, %.0f s%n", done, items,
              (System.nanoTime() - t0) / 1e9));
      System.err.printf("[build] done in %.1f s, peak RSS %s%n", (System.nanoTime() - t0) / 1e9, SnapshotCache.peakRss());
      System.out.println(d.toString());
      return 0;
    }
  }
}
