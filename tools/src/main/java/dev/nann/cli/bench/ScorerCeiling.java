package dev.nann.cli.bench;

import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scorer's own ceiling on this machine: what bare ONNX Runtime calls on the serving model cost,
 * with as many threads as the engine walks with. Measured at two batch sizes, the cost of one call is
 * a fixed part plus a part per row ({@link CallCost}), so the ceiling can be taken at the calls the
 * walk really makes: a request of c calls scoring n items costs c fixed parts and n row parts, the
 * request rate no serving pipeline could beat here with that walk. The serving benchmark reports its
 * own rate against it.
 */
final class ScorerCeiling {
  private ScorerCeiling() {}

  /**
   * One thread's cost of a runtime call, {@code nanosPerCall + rows * nanosPerRow}, with {@code
   * threads} threads calling side by side.
   */
  record CallCost(double nanosPerCall, double nanosPerRow, int threads) {
    /** Items/s all threads reach with calls of {@code rows} rows. */
    double itemsPerSecond(double rows) {
      return threads * rows * 1e9 / (nanosPerCall + rows * nanosPerRow);
    }

    /**
     * The cost fitted through one thread's nanoseconds per call at two sizes: the part per row is the
     * slope between them, the fixed part what the smaller call costs beyond its rows (neither below 0).
     */
    static CallCost fit(int smallRows, double smallNanos, int largeRows, double largeNanos, int threads) {
      double perRow = largeRows == smallRows ? 0 : Math.max(0, (largeNanos - smallNanos) / (largeRows - smallRows));
      return new CallCost(Math.max(0, smallNanos - perRow * smallRows), perRow, threads);
    }

    /** One thread's nanoseconds for a call of {@code rows} rows (a mean over calls may be fractional). */
    double callNanos(double rows) {
      return nanosPerCall + rows * nanosPerRow;
    }

    /**
     * The cost fitted through the faster of {@code this} and {@code other} at each of the two sizes:
     * noise (a compiler thread, a neighbour on the host) only ever slows a timing down, so the faster
     * of two is the better estimate of what the scorer can do.
     */
    CallCost fastest(CallCost other, int smallRows, int largeRows) {
      return fit(smallRows, Math.min(callNanos(smallRows), other.callNanos(smallRows)), largeRows,
          Math.min(callNanos(largeRows), other.callNanos(largeRows)), threads);
    }

    /** Requests/s all threads reach when each request makes {@code calls} calls scoring {@code items} items. */
    double requestsPerSecond(double calls, double items) {
      return threads * 1e9 / (calls * nanosPerCall + items * nanosPerRow);
    }
  }

  /**
   * The cost model fitted from calls of {@code smallRows} and {@code largeRows} rows, measured in
   * {@code rounds} alternating rounds of {@code seconds} each and keeping each size's fastest: the
   * fixed part is a difference of two timings, and a single pair of runs moved it by half between
   * runs on the 2-core machine.
   */
  static CallCost measure(Path modelDir, int threads, int smallRows, int largeRows, int rounds, double seconds)
      throws InterruptedException {
    return measure(modelDir, dev.nann.scorer.ScorerRuntime.cpu(1), threads, smallRows, largeRows, rounds, seconds,
        provider -> { });
  }

  /**
   * {@link #measure(Path, int, int, int, int, double)} on {@code runtime}'s provider, device and threads
   * per call; {@code providerUsed} hears the provider the model was loaded on ({@code auto} resolved).
   */
  static CallCost measure(Path modelDir, dev.nann.scorer.ScorerRuntime runtime, int threads, int smallRows, int largeRows,
                          int rounds, double seconds, java.util.function.Consumer<String> providerUsed)
      throws InterruptedException {
    double smallBest = 0;
    double largeBest = 0;
    try (OnnxScorer scorer = new OnnxScorer(dev.nann.scorer.OnnxModel.load(modelDir, runtime), true)) {
      providerUsed.accept(scorer.model().provider());
      for (int r = 0; r < rounds; r++) {
        smallBest = Math.max(smallBest, itemsPerSecond(scorer, threads, smallRows, seconds, 1.0));
        largeBest = Math.max(largeBest, itemsPerSecond(scorer, threads, largeRows, seconds, 1.0));
      }
    }
    return CallCost.fit(smallRows, callNanos(smallBest, threads, smallRows), largeRows,
        callNanos(largeBest, threads, largeRows), threads);
  }

  /** One thread's nanoseconds per call of {@code rows} rows, from the items/s all threads reached. */
  static double callNanos(double itemsPerSecond, int threads, int rows) {
    return threads * rows * 1e9 / Math.max(1, itemsPerSecond);
  }

  /**
   * Items/s over {@code seconds}, after {@code warmupSeconds}, from {@code threads} threads each
   * scoring calls of {@code batchRows} random rows against one random user.
   */
  static double itemsPerSecond(OnnxScorer scorer, int threads, int batchRows, double seconds, double warmupSeconds)
      throws InterruptedException {
    return itemsPerSecond(scorer, scorer.model().spec(), threads, batchRows, seconds, warmupSeconds);
  }

  /**
   * {@link #itemsPerSecond(OnnxScorer, int, int, double, double)} through any scorer of the model
   * {@code spec} describes (e.g. a micro-batching one, whose threads' calls are merged).
   */
  static double itemsPerSecond(Scorer scorer, ModelSpec spec, int threads, int batchRows, double seconds,
                               double warmupSeconds) throws InterruptedException {
    return throughput(scorer, spec, threads, batchRows, batchRows, seconds, warmupSeconds).itemsPerSecond();
  }

  /** Items and calls a second over all threads. */
  record Throughput(double itemsPerSecond, double callsPerSecond) {
    /** Mean rows a call. */
    double rowsPerCall() {
      return itemsPerSecond / Math.max(1e-9, callsPerSecond);
    }

    /** One thread's nanoseconds a call, when {@code threads} threads called side by side. */
    double callNanos(int threads) {
      return threads * 1e9 / Math.max(1e-9, callsPerSecond);
    }
  }

  /**
   * Items and calls a second over {@code seconds}, after {@code warmupSeconds}, from {@code threads}
   * threads each scoring random rows against one random user, in calls of {@code minRows} to {@code
   * maxRows} rows, each call's size drawn anew (the walk's calls change size from one to the next),
   * or all of {@code maxRows} when the two are equal.
   */
  static Throughput throughput(Scorer scorer, ModelSpec spec, int threads, int minRows, int maxRows, double seconds,
                               double warmupSeconds) throws InterruptedException {
    int dim = spec.itemDim();
    AtomicLong items = new AtomicLong();
    AtomicLong calls = new AtomicLong();
    long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
    long end = warmEnd + (long) (seconds * 1e9);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int seed = t;
      Thread w = new Thread(() -> {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] rows = new float[maxRows * dim];
        for (int i = 0; i < rows.length; i++) {
          rows[i] = (float) rnd.nextGaussian();
        }
        int len = spec.maxSeqLen();
        long[] ids = new long[len];
        float[] history = new float[len * dim];
        for (int i = 0; i < history.length; i++) {
          history[i] = (float) rnd.nextGaussian();
        }
        ScoreBatch batch = scorer.newBatch();
        try (UserState user = scorer.user(new UserFeatures(ids, history, dim))) {
          for (int r = 0; r < maxRows; r++) {
            batch.putRow(r, rows, r * dim);
          }
          while (System.nanoTime() < end) {
            int n = minRows == maxRows ? maxRows : minRows + rnd.nextInt(maxRows - minRows + 1);
            scorer.score(user, batch, n);
            if (System.nanoTime() > warmEnd) {
              items.addAndGet(n);
              calls.incrementAndGet();
            }
          }
        }
      }, "ceiling-" + t);
      workers.add(w);
      w.start();
    }
    for (Thread w : workers) {
      w.join();
    }
    return new Throughput(items.get() / seconds, calls.get() / seconds);
  }
}
