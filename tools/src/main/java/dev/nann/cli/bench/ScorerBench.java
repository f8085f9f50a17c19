package dev.nann.cli.bench;

import dev.nann.cli.JsonLines;
import dev.nann.cli.MachineInfo;
import dev.nann.engine.EngineConfig;
import dev.nann.scorer.MicroBatchingScorer;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.ScorerRuntime;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench scorer}: what one runtime call of a model's score network costs on this
 * machine, by rows per call, on one thread (or several side by side on one session, as the engine's
 * walker threads call it), and the fixed part and the part per row fitted from the
 * smallest and largest sizes. That split is what the walk's batching trades on: a call's fixed cost is
 * paid once per step, so a cheap scorer (an inner product) is dominated by it.
 *
 * <p>With {@code --compare-output} every size is also timed with the runtime allocating each call's
 * output, the plain ONNX Runtime API, against the default that writes scores into the batch's direct
 * buffer; rounds alternate between the two, and each keeps its fastest, so both see the same machine.
 * With {@code --batching} the threads' calls are also timed through the serving engine's
 * {@link MicroBatchingScorer}, which merges them into one runtime call on its dispatcher thread: where
 * merging pays on this machine and model, and where it does not. With {@code --mixed} the plain calls are
 * also timed at sizes drawn anew each call, as the walk makes them, against the fit.
 */
@Command(name = "scorer", mixinStandardHelpOptions = true,
    description = "Cost of one score-network call by rows per call (one thread, or --threads side by side as the "
        + "engine's walkers call): fixed part and part per row; "
        + "--compare-output also times the runtime allocating every output, --batching the threads' calls merged, "
        + "side by side.")
public final class ScorerBench implements Callable<Integer> {
  @Option(names = "--model", description = "model directory (default: models/fixtures/attention-d64)")
  Path model;

  @Option(names = "--rows", split = ",", description = "rows per call, comma-separated (default: 1,32,256)")
  List<Integer> rows = List.of(1, 32, 256);

  @Option(names = "--rounds", description = "alternating rounds; each size keeps its fastest (default: ${DEFAULT-VALUE})")
  int rounds = 5;

  @Option(names = "--seconds", description = "seconds per size and round (default: ${DEFAULT-VALUE})")
  double seconds = 0.5;

  @Option(names = "--threads", description = "threads calling side by side on one session, as the engine's walker "
      + "threads do; the cost reported is one thread's (default: ${DEFAULT-VALUE})")
  int threads = 1;

  @Option(names = "--compare-output", description = "also time calls whose output the runtime allocates")
  boolean compareOutput;

  @Option(names = "--provider", description = "ONNX Runtime execution provider: cpu, cuda (the -Pgpu build on a GPU "
      + "machine) or auto (default: ${DEFAULT-VALUE})")
  String provider = "cpu";

  @Option(names = "--device-id", description = "CUDA device for --provider cuda or auto (default: ${DEFAULT-VALUE})")
  int deviceId;

  @Option(names = "--mixed", description = "also time calls whose sizes are drawn anew each call from the smallest to "
      + "the largest --rows, as the walk's change from one step to the next, against what the fit says they cost")
  boolean mixed;

  @Option(names = "--batching", description = "also time the threads' calls merged into one runtime call by "
      + "micro-batching, as batching.enabled=true serves them (needs --threads 2 or more)")
  boolean batching;

  @Override
  public Integer call() throws InterruptedException {
    Path dir = model != null ? model : BenchCatalog.repo().resolve("models/fixtures/attention-d64");
    if (threads < 1) {
      throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
    }
    if (rows.isEmpty() || rows.stream().anyMatch(r -> r < 1)) {
      throw new IllegalArgumentException("--rows needs one or more sizes >= 1, got " + rows);
    }
    MachineInfo machine = MachineInfo.current();
    if (batching && threads < 2) {
      throw new IllegalArgumentException("--batching merges the calls of several threads: give --threads 2 or more");
    }
    try (OnnxModel m = OnnxModel.load(dir, new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, 1))) {
      OnnxScorer plain = new OnnxScorer(m);
      List<Scorer> scorers = new ArrayList<>(List.of(plain));
      if (compareOutput) {
        scorers.add(OnnxScorer.allocatingOutput(m));
      }
      MicroBatchingScorer merging = batching ? new MicroBatchingScorer(plain, EngineConfig.DEFAULT_BATCH_MAX_ROWS,
          EngineConfig.DEFAULT_BATCH_MAX_WAIT_MICROS) : null;   // serving's defaults
      if (merging != null) {
        scorers.add(merging);
      }
      try {
        measure(scorers, merging, m, machine, dir);
      } finally {
        if (merging != null) {
          merging.close();   // stops its dispatcher thread; the model is closed below
        }
      }
    }
    return 0;
  }

  /** Times every scorer at every size in alternating rounds and prints each one's costs (and the ratios asked for). */
  private void measure(List<Scorer> scorers, MicroBatchingScorer merging, OnnxModel m, MachineInfo machine, Path dir)
      throws InterruptedException {
    int max = rows.stream().mapToInt(Integer::intValue).max().orElseThrow();
    if (max > scorers.get(0).maxBatch()) {
      throw new IllegalArgumentException("--rows " + max + " exceeds the scorer's largest call, " + scorers.get(0).maxBatch());
    }
    System.err.printf(Locale.ROOT, "[bench] %s on %s, %d thread(s), %d rounds of %.1f s a size%s%s; machine: %s%n", dir,
        m.provider(), threads, rounds, seconds, compareOutput ? ", pinned and allocated output alternating" : "",
        batching ? ", separate and merged calls alternating" : "", machine.describe());
    double[][] best = new double[scorers.size()][rows.size()];
    int lo = rows.stream().mapToInt(Integer::intValue).min().orElseThrow();
    List<ScorerCeiling.Throughput> mixedRuns = new ArrayList<>();
    for (double[] b : best) {
      java.util.Arrays.fill(b, Double.MAX_VALUE);
    }
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < rows.size(); i++) {
        for (int s = 0; s < scorers.size(); s++) {
          int n = rows.get(i);
          double itemsPerSecond = ScorerCeiling.itemsPerSecond(scorers.get(s), m.spec(), threads, n, seconds,
              0.2 * seconds);
          best[s][i] = Math.min(best[s][i], ScorerCeiling.callNanos(itemsPerSecond, threads, n));
        }
      }
      if (mixed) {
        mixedRuns.add(ScorerCeiling.throughput(scorers.get(0), m.spec(), threads, lo, max, seconds, 0.2 * seconds));
      }
    }
    if (mixed) {
      reportMixed(mixedRuns, fit(best[0]), lo, max);
    }
    for (int s = 0; s < scorers.size(); s++) {
      report(scorers.get(s) == merging ? "merged" : ((OnnxScorer) scorers.get(s)).pinsOutput() ? "pinned" : "allocated",
          best[s], machine);
    }
    if (compareOutput) {
      for (int i = 0; i < rows.size(); i++) {
        System.out.printf(Locale.ROOT, "{\"bench\":\"scorer-output\",\"rows\":%d,\"allocated_over_pinned\":%.3f}%n",
            rows.get(i), best[1][i] / best[0][i]);
      }
    }
    if (merging != null) {
      int mi = scorers.size() - 1;
      for (int i = 0; i < rows.size(); i++) {
        System.out.println(JsonLines.line(JsonLines.object().put("bench", "scorer-batching").put("threads", threads)
            .put("rows", rows.get(i)).put("merged_call_time_over_separate", JsonLines.round(best[mi][i] / best[0][i], 3))
            .put("batches_per_call", JsonLines.round(merging.meanBatchesPerCall(), 2))));   // whole run
      }
    }
  }

  /** The cost fitted through the smallest and the largest size's one-thread nanoseconds a call. */
  private ScorerCeiling.CallCost fit(double[] nanos) {
    int first = 0;
    int last = 0;
    for (int i = 0; i < rows.size(); i++) {
      first = rows.get(i) < rows.get(first) ? i : first;
      last = rows.get(i) > rows.get(last) ? i : last;
    }
    return ScorerCeiling.CallCost.fit(rows.get(first), nanos[first], rows.get(last), nanos[last], 1);
  }

  /**
   * Calls of sizes drawn anew each call against the fit at their mean size; like every size here, the
   * round closest to the fit is kept (noise only slows a timing).
   */
  private void reportMixed(List<ScorerCeiling.Throughput> runs, ScorerCeiling.CallCost fit, int lo, int hi) {
    ScorerCeiling.Throughput kept = runs.stream()
        .min(java.util.Comparator.comparingDouble(t -> t.callNanos(threads) / fit.callNanos(t.rowsPerCall())))
        .orElseThrow();
    double callNanos = kept.callNanos(threads);
    double fitNanos = fit.callNanos(kept.rowsPerCall());
    System.out.println(JsonLines.line(JsonLines.object().put("bench", "scorer-mixed").put("threads", threads)
        .put("rows_min", lo).put("rows_max", hi).put("rows_per_call", JsonLines.round(kept.rowsPerCall(), 1))
        .put("call_us", JsonLines.round(callNanos / 1e3, 2)).put("fit_call_us", JsonLines.round(fitNanos / 1e3, 2))
        .put("over_fit", JsonLines.round(callNanos / fitNanos, 3))));
  }

  private void report(String output, double[] nanos, MachineInfo machine) {
    ScorerCeiling.CallCost fit = fit(nanos);
    for (int i = 0; i < rows.size(); i++) {
      System.out.println(JsonLines.line(JsonLines.object().put("bench", "scorer").put("output", output)
          .put("threads", threads).put("rows", rows.get(i)).put("call_us", JsonLines.round(nanos[i] / 1e3, 2))
          .put("row_ns", JsonLines.round(nanos[i] / rows.get(i), 1))));
    }
    System.out.println(JsonLines.line(JsonLines.object().put("bench", "scorer-fit").put("output", output)
        .put("threads", threads).put("fixed_us", JsonLines.round(fit.nanosPerCall() / 1e3, 2))
        .put("per_row_ns", JsonLines.round(fit.nanosPerRow(), 2)).putPOJO("machine", machine.toJson())));
  }
}
