package dev.nann.eval;

import dev.nann.graph.HnswIndex;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import dev.nann.search.BeamParams;
import dev.nann.search.SearchResult;
import dev.nann.search.Searcher;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the evaluation behind {@code nann eval}: the same queries through each requested mode
 * ({@code nann} = Beam-retrieval, {@code hnsw} = HNSW-retrieval, {@code brute} = exact), always
 * with a brute-force pass as the reference B_u for coverage and recall-all.
 */
public final class Evaluator {
  /** Search modes {@code nann eval} knows. */
  public static final List<String> MODES = List.of("nann", "hnsw", "brute", "dr");

  /**
   * @param modes modes to report, from {@link #MODES}
   * @param beam Beam-retrieval parameters
   * @param hnswEf ef_0 of HNSW-retrieval
   * @param k M, the number of items returned
   * @param queries how many users to query (capped by the corpus)
   * @param threads query threads (one searcher each)
   * @param seed picks the users
   * @param warmup untimed queries each query thread runs before a mode is measured (the JIT compiles
   *     the walk during the first ones); brute force runs at most one, a single exact query already
   *     runs its loop over the whole corpus
   */
  public record Config(List<String> modes, BeamParams beam, int hnswEf, int k, int queries, int threads, long seed,
                       int warmup) {
    public Config {
      if (warmup < 0) {
        throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
      }
      for (String m : modes) {
        if (!MODES.contains(m)) {
          throw new IllegalArgumentException("unknown mode '" + m + "'; known modes are " + MODES);
        }
      }
      if (k < 1) {
        throw new IllegalArgumentException("k must be >= 1, got " + k);
      }
      if (queries < 1 || threads < 1) {
        throw new IllegalArgumentException("queries and threads must be >= 1");
      }
      modes = List.copyOf(modes);
    }
  }

  private final HnswIndex index;
  private final Scorer scorer;
  private final Corpus corpus;
  private final PrintStream progress;
  private Run bruteRun;
  private String bruteKey;
  private dev.nann.dr.PathModel dr;
  private int drBeam;
  private dev.nann.graph.ItemIdLookup ids;
  private java.nio.file.Path referenceCache;
  private String modelKey;
  private boolean explainMisses;

  /**
   * Enables mode {@code dr}: Deep Retrieval's beam search over {@code model} (width {@code beam})
   * gathers the items of the best paths, and the scorer reranks exactly those.
   */
  public Evaluator withDeepRetrieval(dev.nann.dr.PathModel model, int beam) {
    this.dr = model;
    this.drBeam = beam;
    this.ids = dev.nann.graph.ItemIdLookup.of(index);
    return this;
  }

  /**
   * Keeps the brute-force reference of each run in {@code dir} (one file per corpus and model, user
   * sample and k; as item ids, so it holds for any graph built over the corpus), so a sweep of
   * budgets re-run later does not pay for the exact pass again. The reference is only read when
   * {@code brute} is not among the modes (its QPS is then measured).
   *
   * @param dir directory for reference files
   * @param modelKey identifies the corpus's items and the scorer's weights (e.g. a digest of both)
   */
  public Evaluator withReferenceCache(java.nio.file.Path dir, String modelKey) {
    this.referenceCache = dir;
    this.modelKey = modelKey;
    return this;
  }

  public Evaluator(HnswIndex index, Scorer scorer, Corpus corpus, PrintStream progress) {
    if (corpus.size() != index.size()) {
      throw new IllegalArgumentException("corpus has " + corpus.size() + " items, index " + index.size());
    }
    this.index = index;
    this.scorer = scorer;
    this.corpus = corpus;
    this.progress = progress;
  }

  /** Runs every mode on the same users; brute force, the reference, last. */
  public List<ModeReport> run(Config cfg) {
    List<Corpus.User> users = new ArrayList<>(corpus.users());
    Collections.shuffle(users, new Random(cfg.seed()));
    users = users.subList(0, Math.min(cfg.queries(), users.size()));
    if (users.isEmpty()) {
      throw new IllegalArgumentException("the corpus has no evaluation users");
    }
    int kEff = Math.min(cfg.k(), index.size() - index.deletedCount());
    // The searches run first and the exact pass after them: its minutes of full load are not
    // allowed to precede (and perturb) their timings. It is only needed for the metrics below.
    java.util.Map<String, Run> measured = new java.util.HashMap<>();
    for (String mode : cfg.modes()) {
      if (!mode.equals("brute")) {
        measured.put(mode, runMode(mode, users, cfg, kEff));
      }
    }
    String key = users.size() + "/" + cfg.seed() + "/" + kEff;
    if (!key.equals(bruteKey)) {         // the exact reference is the same for every budget: run it once
      bruteRun = reference(users, cfg, kEff);
      bruteKey = key;
    }
    Run brute = bruteRun;
    List<ModeReport> out = new ArrayList<>();
    for (String mode : cfg.modes()) {
      Run r = mode.equals("brute") ? brute : measured.get(mode);
      RetrievalMetrics m = new RetrievalMetrics();
      java.util.Set<Long> distinct = new java.util.HashSet<>();
      long returned = 0;
      for (int q = 0; q < users.size(); q++) {
        long[] ids = itemIds(r.results[q]);
        m.add(ids, itemIds(brute.results[q]), truthIds(users.get(q)));
        for (long id : ids) {
          distinct.add(id);
        }
        returned += ids.length;
      }
      if (progress != null) {
        progress.printf("[eval] %s: %d distinct items in %d answers (%.3f): a low share means every user gets the same items%n",
            mode, distinct.size(), returned, returned == 0 ? 0.0 : (double) distinct.size() / returned);
      }
      if (explainMisses && mode.equals("nann") && progress != null) {
        explainMisses(users, cfg, kEff, brute);
      }
      out.add(r.report(mode, m, cfg, kEff));
    }
    return out;
  }

  /**
   * Prints where Beam-retrieval's misses lie (the exact top-k items it did not return): by rank in
   * the exact list, how far above its last answer they score, and whether the walk scored any of
   * their level-0 neighbours, i.e. whether it came near them at all. Re-runs the queries untimed.
   */
  public Evaluator explainMisses(boolean on) {
    this.explainMisses = on;
    return this;
  }

  private void explainMisses(List<Corpus.User> users, Config cfg, int k, Run brute) {
    Searcher searcher = new Searcher(index, scorer);
    java.util.BitSet scored = new java.util.BitSet(index.size());
    searcher.setListener((nodes, count) -> {
      for (int i = 0; i < count; i++) {
        scored.set(nodes[i]);
      }
    });
    int[] byTenth = new int[10];
    long missed = 0;
    long nearScored = 0;
    long total = 0;
    double gap = 0;
    java.util.BitSet answered = new java.util.BitSet(index.size());
    for (int q = 0; q < users.size(); q++) {
      scored.clear();
      answered.clear();
      SearchResult r;
      try (UserState u = scorer.user(corpus.features(users.get(q)))) {
        r = searcher.beam(u, k, cfg.beam());
      }
      for (int node : r.nodes()) {
        answered.set(node);
      }
      float last = r.size() == 0 ? Float.NEGATIVE_INFINITY : r.scores()[r.size() - 1];
      SearchResult exact = brute.results[q];
      total += exact.size();
      for (int j = 0; j < exact.size(); j++) {
        int v = exact.nodes()[j];
        if (answered.get(v)) {
          continue;
        }
        missed++;
        byTenth[j * 10 / exact.size()]++;
        gap += exact.scores()[j] - last;
        for (int nb : index.graph().neighbors(0, v)) {
          if (scored.get(nb)) {
            nearScored++;
            break;
          }
        }
      }
    }
    progress.printf("[eval] misses of %s: %d of %d exact top-%d items; by tenth of the exact ranking %s; on average %.3f "
            + "above the last answer's score; %.0f%% had a scored level-0 neighbour (the walk came near them)%n",
        cfg.beam(), missed, total, k, Arrays.toString(byTenth), missed == 0 ? 0.0 : gap / missed,
        missed == 0 ? 0.0 : 100.0 * nearScored / missed);
  }

  /** The brute-force run: read from the reference cache when allowed, else measured (and cached). */
  private Run reference(List<Corpus.User> users, Config cfg, int k) {
    java.nio.file.Path file = null;
    if (referenceCache != null) {
      file = referenceCache.resolve(modelKey + "-q" + users.size() + "-s" + cfg.seed() + "-k" + k + ".ref");
      if (!cfg.modes().contains("brute") && java.nio.file.Files.exists(file)) {
        Run cached = readReference(file, users.size());
        if (cached != null) {
          if (progress != null) {
            progress.println("[eval] brute-force reference read from " + file + " (add mode brute to measure it)");
          }
          return cached;
        }
      }
    }
    Run run = runMode("brute", users, cfg, k);
    if (file != null) {
      writeReference(file, run);
    }
    return run;
  }

  private Run readReference(java.nio.file.Path file, int queries) {
    try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(
        java.nio.file.Files.newInputStream(file)))) {
      if (in.readInt() != queries) {
        return null;
      }
      Run run = new Run(queries);
      dev.nann.graph.ItemIdLookup lookup = dev.nann.graph.ItemIdLookup.of(index);
      for (int q = 0; q < queries; q++) {
        int n = in.readInt();
        int[] nodes = new int[n];
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
          nodes[i] = lookup.nodeOf(in.readLong());
          scores[i] = in.readFloat();
          if (nodes[i] < 0) {
            return null;                // an item this index does not hold: not our reference
          }
        }
        run.results[q] = new SearchResult(nodes, scores, index.size(), 0, 0, 0, 0, 0);
      }
      return run;
    } catch (java.io.IOException e) {
      if (progress != null) {
        progress.println("[eval] reference cache " + file + " unreadable (" + e.getMessage() + "): measuring again");
      }
      return null;
    }
  }

  private void writeReference(java.nio.file.Path file, Run run) {
    try {
      java.nio.file.Files.createDirectories(file.getParent());
      java.nio.file.Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      try (java.io.DataOutputStream out = new java.io.DataOutputStream(new java.io.BufferedOutputStream(
          java.nio.file.Files.newOutputStream(tmp)))) {
        out.writeInt(run.results.length);
        for (SearchResult r : run.results) {
          out.writeInt(r.size());
          for (int i = 0; i < r.size(); i++) {
            out.writeLong(index.itemId(r.nodes()[i]));   // item ids: the reference holds for any graph over the corpus
            out.writeFloat(r.scores()[i]);
          }
        }
      }
      java.nio.file.Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (java.io.IOException e) {
      if (progress != null) {
        progress.println("[eval] could not write reference cache " + file + ": " + e.getMessage());
      }
    }
  }

  private final class Run {
    final SearchResult[] results;
    final long[] latencyNanos;
    final long[] scorerNanos;
    final long[] userNanos;
    long wallNanos;

    Run(int n) {
      results = new SearchResult[n];
      latencyNanos = new long[n];
      scorerNanos = new long[n];
      userNanos = new long[n];
    }

    ModeReport report(String mode, RetrievalMetrics m, Config cfg, int k) {
      int n = results.length;
      double scored = 0;
      double calls = 0;
      double scorerTotal = 0;
      double latencyTotal = 0;
      double gather = 0;
      double expand = 0;
      double userNet = 0;
      for (int q = 0; q < n; q++) {
        gather += results[q].gatherNanos();
        expand += results[q].expandNanos();
        userNet += userNanos[q];
        scored += results[q].scored();
        calls += results[q].scoreCalls();
        scorerTotal += scorerNanos[q];
        latencyTotal += latencyNanos[q];
      }
      long[] sorted = latencyNanos.clone();
      Arrays.sort(sorted);
      String params = switch (mode) {
        case "nann" -> cfg.beam().toString();
        case "hnsw" -> "ef0=" + cfg.hnswEf();
        case "dr" -> "B=" + drBeam;
        default -> "exhaustive";
      };
      return new ModeReport(mode, index.size(), n, k, m.coverage(), m.recallAll(), m.recallRetrieval(), m.recallDelta(),
          scored / n / index.size(), scored / n, calls / n, n / (wallNanos / 1e9), percentile(sorted, 0.50) / 1e6,
          percentile(sorted, 0.99) / 1e6, 1.0 - scorerTotal / latencyTotal, userNet / latencyTotal,
          (scorerTotal - userNet) / latencyTotal, gather / latencyTotal, expand / latencyTotal, cfg.threads(), params);
    }
  }

  private Run runMode(String mode, List<Corpus.User> users, Config cfg, int k) {
    Run run = new Run(users.size());
    AtomicInteger nextQuery = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(cfg.threads(), r -> {
      Thread t = new Thread(r, "eval-" + mode);
      t.setDaemon(true);
      return t;
    });
    // The clock starts when the last party arrives at the gate, before any of them is released:
    // set by the main thread after the gate, it raced the first queries (progress read ~epoch).
    java.util.concurrent.atomic.AtomicLong startNanos = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.Phaser startGate = new java.util.concurrent.Phaser(cfg.threads() + 1) {
      @Override
      protected boolean onAdvance(int phase, int parties) {
        startNanos.set(System.nanoTime());
        return super.onAdvance(phase, parties);
      }
    };
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < cfg.threads(); t++) {
        futures.add(pool.submit(() -> {
          Searcher searcher = new Searcher(index, scorer);
          int warm = mode.equals("brute") ? Math.min(1, cfg.warmup()) : cfg.warmup();
          try {
            for (int w = 0; w < warm; w++) {
              try (UserState u = scorer.user(corpus.features(users.get(w % users.size())))) {
                search(mode, searcher, u, users.get(w % users.size()), cfg, k);
              }
            }
          } catch (RuntimeException e) {
            startGate.arriveAndDeregister();   // do not keep the others waiting at the gate
            throw e;
          }
          startGate.arriveAndAwaitAdvance();
          int q;
          while ((q = nextQuery.getAndIncrement()) < users.size()) {
            long t0 = System.nanoTime();
            try (UserState u = scorer.user(corpus.features(users.get(q)))) {
              long t1 = System.nanoTime();
              SearchResult r = search(mode, searcher, u, users.get(q), cfg, k);
              run.results[q] = r;
              run.latencyNanos[q] = System.nanoTime() - t0;
              run.scorerNanos[q] = (t1 - t0) + r.scorerNanos();
              run.userNanos[q] = t1 - t0;
            }
            int d = done.incrementAndGet();
            if (progress != null && (d % Math.max(1, users.size() / 10) == 0 || d == users.size())) {
              progress.printf("[eval] %-5s %d/%d queries, %.1f s%n", mode, d, users.size(),
                  (System.nanoTime() - startNanos.get()) / 1e9);
            }
          }
          return null;
        }));
      }
      startGate.arriveAndAwaitAdvance();   // every thread has warmed up: the clock started in onAdvance
      for (Future<?> f : futures) {
        f.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("evaluation interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } finally {
      pool.shutdownNow();
    }
    run.wallNanos = System.nanoTime() - startNanos.get();
    return run;
  }

  private SearchResult search(String mode, Searcher searcher, UserState u, Corpus.User user, Config cfg, int k) {
    return switch (mode) {
      case "nann" -> searcher.beam(u, k, cfg.beam());
      case "hnsw" -> searcher.hnsw(u, k, Math.max(cfg.hnswEf(), k));
      case "dr" -> deepRetrieval(searcher, u, user, k);
      default -> searcher.bruteForce(u, k);
    };
  }

  /** The items of the user's best DR paths, reranked by the scorer (only they are scored). */
  private SearchResult deepRetrieval(Searcher searcher, UserState u, Corpus.User user, int k) {
    if (dr == null) {
      throw new IllegalArgumentException("mode dr needs a Deep Retrieval model (--dr DIR)");
    }
    float[] mean = dev.nann.dr.PathModel.userVector(corpus.features(user));
    java.util.BitSet allowed = dr.gather(dr.beamSearch(mean, drBeam).paths(), index, ids);
    if (allowed.isEmpty()) {
      return SearchResult.empty();
    }
    return searcher.bruteForce(u, Math.min(k, allowed.cardinality()), node -> !allowed.get(node));
  }

  private long[] itemIds(SearchResult r) {
    long[] ids = new long[r.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = index.itemId(r.nodes()[i]);
    }
    return ids;
  }

  private long[] truthIds(Corpus.User u) {
    long[] ids = new long[u.truth().length];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = corpus.itemIds()[u.truth()[i]];
    }
    return ids;
  }

  private static double percentile(long[] sorted, double p) {
    int i = (int) Math.ceil(p * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }
}
