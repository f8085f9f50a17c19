package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.engine.QueryExecutor;
import dev.nann.search.Descent;
import dev.nann.search.DescentChooser;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Phaser;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Runs one mode's queries for {@link Evaluator} and {@link ShardedEvaluation}: every query thread
 * builds its own {@link Worker}, runs its untimed warm-up, waits at a start gate for the others, then
 * takes users off a shared counter until all are answered. The wall clock runs from the moment the
 * last thread reaches the gate.
 */
final class QueryRunner {
  private QueryRunner() {
  }

  /** Progress lines start once a run has taken this long: short runs print only their result. */
  static final double PROGRESS_AFTER_SECONDS = 2.0;

  /** One query thread's own searchers and executor. */
  @FunctionalInterface
  interface Worker {
    /** Answers {@code user}'s query and records its answer and timings in slot {@code q} of {@code into}. */
    void query(Results into, int q, Corpus.User user);
  }

  /** One mode's answers and per-query timings. */
  static final class Results {
    final QueryExecutor.Answer[] answers;
    final int[] scored;
    final int[] calls;
    final long[] latencyNanos;
    final long[] scorerNanos;
    final long[] userNanos;
    final long[] gatherNanos;
    final long[] expandNanos;
    /** The slowest shard's walk per query (sharded runs only). */
    final long[] maxShardNanos;
    long wallNanos;
    /** With descent auto: what the model's first queries settled on (null otherwise), and their measured gain. */
    Descent autoDescent;
    double autoGain;

    /** Keeps what {@code descents} settled on, if anything (a run whose walk is not auto leaves it unsettled). */
    void settledBy(DescentChooser descents) {
      autoDescent = descents.chosen();
      autoGain = autoDescent == null ? 0 : descents.meanGain();
    }

    /** The descent the run's nann queries walked: the configured one, or what auto settled on (wide if unsettled). */
    Descent walked(Descent configured) {
      return configured != Descent.AUTO ? configured : autoDescent == null ? Descent.WIDE : autoDescent;
    }

    Results(int n) {
      answers = new QueryExecutor.Answer[n];
      scored = new int[n];
      calls = new int[n];
      latencyNanos = new long[n];
      scorerNanos = new long[n];
      userNanos = new long[n];
      gatherNanos = new long[n];
      expandNanos = new long[n];
      maxShardNanos = new long[n];
    }

    /**
     * @param items the corpus size the scored fraction is relative to
     * @param params the mode's parameters as the report names them
     */
    ModeReport report(SearchMode mode, RetrievalMetrics m, int items, int k, int threads, SearchParams searchParams,
                      String params) {
      int n = answers.length;
      double sc = 0;
      double cl = 0;
      double scorerTotal = 0;
      double latencyTotal = 0;
      double gather = 0;
      double expand = 0;
      double userNet = 0;
      for (int q = 0; q < n; q++) {
        sc += scored[q];
        cl += calls[q];
        scorerTotal += scorerNanos[q];
        latencyTotal += latencyNanos[q];
        gather += gatherNanos[q];
        expand += expandNanos[q];
        userNet += userNanos[q];
      }
      long[] sorted = latencyNanos.clone();
      Arrays.sort(sorted);
      return new ModeReport(mode, items, n, k, m.coverage(), m.recallAll(), m.recallRetrieval(), m.recallDelta(),
          sc / n / items, sc / n, cl / n, n / (wallNanos / 1e9), percentile(sorted, 0.50) / 1e6,
          percentile(sorted, 0.99) / 1e6, 1.0 - scorerTotal / latencyTotal, userNet / latencyTotal,
          (scorerTotal - userNet) / latencyTotal, gather / latencyTotal, expand / latencyTotal, threads, params,
          mode == SearchMode.NANN ? searchParams.walk().descent() : null, autoDescent, autoGain);
    }
  }

  /**
   * Settles descent auto before a run is measured, as serving settles it with a model's first
   * requests: {@code query} answers the q-th learning query (untimed) until {@code descents} has
   * chosen. Bounded: a budget below 2k cannot be split between the two walks, and auto then walks
   * wide unsettled.
   */
  static void settle(DescentChooser descents, java.util.function.IntConsumer query) {
    for (int q = 0; descents.chosen() == null && q < 4 * DescentChooser.SAMPLES; q++) {
      query.accept(q);
    }
  }

  /**
   * Runs {@code users}' queries of {@code mode} on {@code cfg.threads()} threads. Each thread first
   * runs {@code cfg.warmup()} untimed queries (brute force at most one: a single exact query already
   * runs its loop over the whole corpus).
   *
   * @param threadName name of the query threads
   * @param label what the progress lines name before their count (e.g. the mode, padded)
   * @param progress where a line goes every tenth of the queries once the run has taken {@link
   *     #PROGRESS_AFTER_SECONDS}; null for none
   * @param workers builds each query thread's worker, on that thread
   */
  static Results run(SearchMode mode, List<Corpus.User> users, Evaluator.Config cfg, String threadName, String label,
                     PrintStream progress, Supplier<Worker> workers) {
    Results run = new Results(users.size());
    AtomicInteger next = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(cfg.threads(), r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
    // The clock starts when the last party arrives at the gate, before any of them is released:
    // set by the main thread after the gate, it raced the first queries (progress read ~epoch).
    AtomicLong startNanos = new AtomicLong();
    Phaser startGate = new Phaser(cfg.threads() + 1) {
      @Override
      protected boolean onAdvance(int phase, int parties) {
        startNanos.set(System.nanoTime());
        return super.onAdvance(phase, parties);
      }
    };
    int warm = mode == SearchMode.BRUTE ? Math.min(1, cfg.warmup()) : cfg.warmup();
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < cfg.threads(); t++) {
        futures.add(pool.submit(() -> {
          Worker worker;
          try {
            worker = workers.get();
            Results scratch = new Results(1);
            for (int w = 0; w < warm; w++) {
              worker.query(scratch, 0, users.get(w % users.size()));
            }
          } catch (RuntimeException e) {
            startGate.arriveAndDeregister();   // do not keep the others waiting at the gate
            throw e;
          }
          startGate.arriveAndAwaitAdvance();
          int q;
          while ((q = next.getAndIncrement()) < users.size()) {
            worker.query(run, q, users.get(q));
            int d = done.incrementAndGet();
            if (progress != null && (d % Math.max(1, users.size() / 10) == 0 || d == users.size())) {
              double seconds = (System.nanoTime() - startNanos.get()) / 1e9;
              if (seconds >= PROGRESS_AFTER_SECONDS) {   // a run of a fraction of a second needs no progress
                progress.printf("[eval] %s %d/%d queries, %.1f s%n", label, d, users.size(), seconds);
              }
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
    } catch (ExecutionException e) {
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

  /** Retrieval metrics of {@code answers} against the exact answers and the users' held-out items. */
  static RetrievalMetrics metrics(QueryExecutor.Answer[] answers, QueryExecutor.Answer[] exact,
                                  List<Corpus.User> users, Corpus corpus) {
    RetrievalMetrics m = new RetrievalMetrics();
    for (int q = 0; q < users.size(); q++) {
      m.add(answers[q].items(), exact[q].items(), truthIds(corpus, users.get(q)));
    }
    return m;
  }

  /** The item ids of {@code u}'s held-out items. */
  static long[] truthIds(Corpus corpus, Corpus.User u) {
    long[] ids = new long[u.truth().length];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = corpus.itemIds()[u.truth()[i]];
    }
    return ids;
  }

  /** The {@code p} quantile (nearest rank) of ascending {@code sorted}. */
  static double percentile(long[] sorted, double p) {
    int i = (int) Math.ceil(p * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }
}
