package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.cli.JsonLines;
import dev.nann.cli.MachineInfo;
import dev.nann.cli.ServingSettings;
import dev.nann.corpus.Corpus;
import dev.nann.engine.EngineConfig;
import dev.nann.local.LocalStack;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench serving}: open-loop load against the serving job on this machine (real
 * broker, MiniCluster), at a ladder of request rates, with micro-batching on and off. Reports per
 * rate the achieved throughput, client-observed end-to-end p50/p99, the job's own end-to-end and
 * engine latencies, and their ratio; and the highest rate whose p99 stays within the budget
 * ({@link RateLadder}: past the listed rates it climbs until the budget breaks).
 */
@Command(name = "serving", mixinStandardHelpOptions = true,
    description = "Requests/s at a p99 latency budget, end-to-end vs engine latency, micro-batching on vs off.")
public final class ServingBench implements Callable<Integer> {
  @Mixin
  BenchCatalog catalog;

  @Mixin
  LoadOptions load;

  @Mixin
  ServingSettings settings;

  /** Rows per runtime call of the two ceiling loops: a small step of the walk, and a full one. */
  static final int CEILING_SMALL_ROWS = 32;
  static final int CEILING_FULL_ROWS = 256;

  /** Climbing factor when no rates are listed. */
  static final double DEFAULT_CLIMB = 1.2;

  /** The highest rate a climb may offer while the walk's calls, and so the ceiling, are still unknown. */
  static final double MAX_RATE = 100_000;

  /**
   * How far past the first ceiling measurement the climb may go: no pipeline beats its scorer, but
   * that measurement alone once read a third low (its two threads waited on ONNX Runtime's CPU arena,
   * which sessions no longer use; it is taken again at the end).
   */
  static final double CLIMB_PAST_CEILING = 1.5;

  /** Pause after a step that missed its budget, so its backlog does not spill into the next. */
  static final long SETTLE_MILLIS = 3_000;

  /**
   * Unreported seconds at a rate before it is measured after a pause: the first seconds after the
   * stack sat idle answer worse than steady load does (at 260 req/s here, 15 s right after 3-5 idle
   * seconds missed a 50 ms p99 in 5 of 7 runs, the steady load just before the pause in 1 of 7), and
   * the bench measures the steady state.
   */
  static final int REWARM_SECONDS = 5;

  @Option(names = "--budget-ms", description = "p99 end-to-end budget (default: ${DEFAULT-VALUE})")
  double budgetMs = 50;

  @Option(names = "--breakdown", description = "print where each request's time goes, stage by stage (p50 and p99 per rate)")
  boolean breakdown;

  @Option(names = "--batching", description = "on, off or both (default: ${DEFAULT-VALUE})")
  String batching = "both";

  @Option(names = "--climb", paramLabel = "FACTOR", description = "after the listed rates, offer FACTOR times the "
      + "highest rate that held the p99 budget, again while each holds (up to 1.5 times the scorer's ceiling); once a "
      + "rate misses, halve the gap to the highest that held until it is within 5%% (default: 1.2 without --rates, "
      + "1 = off with them)")
  Double climb;

  @Option(names = "--plot", paramLabel = "PNG", description = "also draw client p50 and p99 against the offered rate, "
      + "one pair of lines per batching setting, to this PNG")
  java.nio.file.Path plot;

  /** One table per rate: each stage's p50 and p99, and its share of the client's p50. */
  private static void printBreakdown(double rate, LoadDriver.Step r) {
    double client = r.client().quantile(0.5);
    System.err.printf(java.util.Locale.ROOT, "[breakdown] %.0f req/s: client p50 %.2f ms, engine p50 %.2f ms (end to end / "
        + "engine %.2f)%n", rate, client, r.engine().quantile(0.5), client / Math.max(1e-3, r.engine().quantile(0.5)));
    System.err.printf("[breakdown]   %-13s %8s %8s %7s%n", "stage", "p50 ms", "p99 ms", "of p50");
    for (var e : r.stages().entrySet()) {
      double p50 = e.getValue().quantile(0.5);
      System.err.printf(java.util.Locale.ROOT, "[breakdown]   %-13s %8.2f %8.2f %6.0f%%%n", e.getKey(), p50,
          e.getValue().quantile(0.99), 100 * p50 / Math.max(1e-3, client));
    }
    StringBuilder cpu = new StringBuilder();
    r.cpuMillisPerRequestByThread().forEach((role, ms) -> cpu.append(String.format(java.util.Locale.ROOT, " %s %.2f", role, ms)));
    System.err.printf(java.util.Locale.ROOT, "[breakdown]   CPU a request, ms by thread (%.2f all in):%s%n",
        r.cpuMillisPerRequest(), cpu);
  }

  /** One batching setting's outcome: the best rate within budget, what a request scored, Kafka's bare hop. */
  private record ModeResult(String mode, double best, double steadyBest, double scored, double calls,
                            dev.nann.local.LatencyStats hop, double engineCpuMillis) {}

  private ScorerCeiling.CallCost measureCeiling(Path modelDir, dev.nann.scorer.ScorerRuntime runtime, int walkers,
                                                String when) throws InterruptedException {
    ScorerCeiling.CallCost cost = ScorerCeiling.measure(modelDir, runtime, walkers, CEILING_SMALL_ROWS, CEILING_FULL_ROWS,
        3, 1.5, provider -> ceilingProvider = provider);
    System.err.printf(java.util.Locale.ROOT, "[bench] scorer ceiling%s (bare ONNX Runtime, %s provider, %d threads of "
        + "%d runtime threads each): %.1f us a call + %.2f us a row; %,.0f items/s in calls of %d rows%n", when,
        ceilingProvider, walkers, runtime.intraOpThreads(), cost.nanosPerCall() / 1e3,
        cost.nanosPerRow() / 1e3, cost.itemsPerSecond(CEILING_FULL_ROWS), CEILING_FULL_ROWS);
    return cost;
  }

  /** The provider the ceiling was measured on, as ONNX Runtime loaded it (CPU, CUDA:0). */
  private String ceilingProvider = "";

  /** The runtime the job's engine scores on, from the same settings: the ceiling must be priced on it. */
  private dev.nann.scorer.ScorerRuntime jobRuntime() {
    Map<String, String> s = settings.copy();
    return new dev.nann.scorer.ScorerRuntime(
        dev.nann.scorer.ScorerRuntime.Provider.parse(s.getOrDefault("scorer.provider", EngineConfig.DEFAULT_PROVIDER)),
        Integer.parseInt(s.getOrDefault("scorer.device-id", Integer.toString(EngineConfig.DEFAULT_DEVICE_ID))),
        Integer.parseInt(s.getOrDefault("engine.scorer-threads", Integer.toString(EngineConfig.DEFAULT_SCORER_THREADS))));
  }

  /** The summary line of one batching setting, priced against the scorer's ceiling at the walk's own calls. */
  private String summary(ModeResult m, ScorerCeiling.CallCost cost, MachineInfo machine) {
    double best = m.best();
    double scored = m.scored();
    double calls = m.calls();
    dev.nann.local.LatencyStats hop = m.hop();
    // the walk's own calls; without them (a job that does not report calls) full calls, the higher ceiling
    double rowsPerCall = calls > 0 ? scored / calls : CEILING_FULL_ROWS;
    double ceilingQps = scored > 0 ? cost.requestsPerSecond(scored / rowsPerCall, scored) : 0;
    double fullCallsQps = scored > 0 ? cost.itemsPerSecond(CEILING_FULL_ROWS) / scored : 0;
    // what the engine's own CPU a request (at the highest rate held) would answer with every core to
    // itself: the most a pipeline around it could reach, before the broker, the clients and Flink
    int cores = Runtime.getRuntime().availableProcessors();
    double engineQps = m.engineCpuMillis() > 0 ? cores * 1000 / m.engineCpuMillis() : 0;
    String summary = JsonLines.line(JsonLines.object().put("bench", "serving-summary").put("batching", m.mode())
        .put("delivery", load.delivery).put("max_qps_within_budget", round(best, 0))
        .put("max_qps_every_lower_held", round(m.steadyBest(), 0)).put("budget_p99_ms", round(budgetMs, 0))
        .put("ceiling_items_per_s", round(cost.itemsPerSecond(rowsPerCall), 0))
        .put("ceiling_provider", ceilingProvider)
        .put("items_scored_per_request", round(scored, 0)).put("score_calls_per_request", round(scored / rowsPerCall, 1))
        .put("ceiling_qps", round(ceilingQps, 0)).put("ceiling_qps_full_calls", round(fullCallsQps, 0))
        .put("scorer_call_us", round(cost.nanosPerCall() / 1e3, 1)).put("scorer_row_us", round(cost.nanosPerRow() / 1e3, 3))
        .put("kafka_hop_p50_ms", round(hop.quantile(0.5), 2)).put("kafka_hop_p99_ms", round(hop.quantile(0.99), 2))
        .put("kafka_hop_rate", round(load.rates().get(0), 0))   // a hop costs more the rarer the messages
        .put("fraction_of_ceiling", round(ceilingQps > 0 ? best / ceilingQps : 0, 2))
        .put("engine_cpu_ms_per_request", round(m.engineCpuMillis(), 2)).put("engine_cpu_qps", round(engineQps, 0))
        .put("engine_cpu_fraction_of_ceiling", round(ceilingQps > 0 ? engineQps / ceilingQps : 0, 2))
        .put("jvm_options", heapOptions()).putPOJO("machine", machine.toJson()));
    System.err.printf(java.util.Locale.ROOT, "[bench] %s: %.0f req/s within p99 %.0f ms = %.2f of the scorer's ceiling at "
        + "the walk's calls (%.0f req/s: %.1f calls, %.0f items a request; %.0f req/s in calls of %d rows)%n", m.mode(),
        best, budgetMs, ceilingQps > 0 ? best / ceilingQps : 0, ceilingQps, scored / rowsPerCall, scored, fullCallsQps,
        CEILING_FULL_ROWS);
    if (engineQps > 0) {
      System.err.printf(java.util.Locale.ROOT, "[bench] %s: at %.0f req/s the engine itself spent %.2f ms of CPU a "
          + "request (user network, walk, score calls); with all %d cores to itself it would answer at most %.0f "
          + "req/s = %.2f of the ceiling, before the broker, the clients and Flink take their share%n", m.mode(), best,
          m.engineCpuMillis(), cores, engineQps, ceilingQps > 0 ? engineQps / ceilingQps : 0);
    }
    return summary;
  }

  /** This JVM's heap and collector options (-Xm…, -XX:…): the young generation's size moves the p99 here. */
  static String heapOptions() {
    return String.join(" ", java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(ServingBench::isHeapOption).toList());
  }

  /** A heap size, stack size or -XX option, as opposed to a system property, agent or module flag. */
  static boolean isHeapOption(String jvmArgument) {
    return jvmArgument.startsWith("-Xm") || jvmArgument.startsWith("-Xs") || jvmArgument.startsWith("-XX:");
  }

  @Override
  public Integer call() throws Exception {
    load.check();
    if (!List.of("on", "off", "both").contains(batching)) {
      throw new IllegalArgumentException("--batching must be on, off or both, got '" + batching + "'");
    }
    Path modelDir = catalog.modelDir();
    Corpus corpus = catalog.corpus();
    int walkers = EngineConfig.walkersFor(Integer.parseInt(settings.copy().getOrDefault("engine.walker-threads",
        Integer.toString(EngineConfig.DEFAULT_WALKER_THREADS))));
    MachineInfo machine = MachineInfo.current();
    System.err.println("[bench] machine: " + machine.describe());
    // the scorer's own ceiling first (and again at the end), on the same model and threads, in the
    // same run; taken at the walk's own calls once the ladder has shown how many it makes
    dev.nann.scorer.ScorerRuntime runtime = jobRuntime();
    ScorerCeiling.CallCost cost = measureCeiling(modelDir, runtime, walkers, "");
    List<String> modes = batching.equals("both") ? List.of("on", "off") : List.of(batching);
    List<String> lines = new ArrayList<>();
    List<ModeResult> results = new ArrayList<>();
    ServingCurve curve = new ServingCurve();
    for (String mode : modes) {
      Map<String, String> s = settings.copy();
      s.put("batching.enabled", Boolean.toString(mode.equals("on")));
      s.put("kafka.delivery", load.delivery);
      s.put("async.timeout-ms", "5000");
      try (LocalStack stack = LocalStack.start(BenchCatalog.repo().resolve(".nann-bench"), modelDir, corpus.itemIds(),
          corpus.embeddings(), corpus.dim(), s, null, System.err)) {
        double firstRate = load.rates().get(0);
        LoadDriver.warm(stack, corpus, firstRate, load.k);
        double scored = 0;
        double calls = 0;
        double engineCpuAtBest = 0;   // the engine's CPU a request at the highest rate held so far
        double scoredAtBest = 0;      // and its items and calls a request: what the ceiling is priced at
        double callsAtBest = 0;
        boolean rested = false;
        RateLadder ladder = new RateLadder(load.rates(), climb != null ? climb : load.ratesGiven() ? 1 : DEFAULT_CLIMB);
        for (OptionalDouble next = ladder.next(MAX_RATE); next.isPresent();
            next = ladder.next(scored > 0 ? CLIMB_PAST_CEILING * cost.requestsPerSecond(calls, scored) : MAX_RATE)) {
          double rate = next.getAsDouble();
          if (rested) {
            System.err.printf(java.util.Locale.ROOT, "[bench] %d s at %.0f req/s after the pause (not reported)%n",
                REWARM_SECONDS, rate);
            LoadDriver.step(stack.client, rate, corpus.users().size(), REWARM_SECONDS, load.k);
            rested = false;
          }
          LoadDriver.Step r = LoadDriver.step(stack.client, rate, corpus.users().size(), load.seconds, load.k);
          ObjectNode line = JsonLines.object().put("bench", "serving").put("items", catalog.items).put("dim", corpus.dim())
              .put("model", modelDir.getFileName().toString()).put("batching", mode).put("delivery", load.delivery)
              .put("offered_qps", round(rate, 0)).put("qps", round(r.qps(), 1)).put("answered", r.answered())
              .put("errors", r.errors()).put("p50_ms", round(r.client().quantile(0.5), 1))
              .put("p99_ms", round(r.client().quantile(0.99), 1)).put("job_p50_ms", round(r.job().quantile(0.5), 1))
              .put("job_p99_ms", round(r.job().quantile(0.99), 1)).put("engine_p50_ms", round(r.engine().quantile(0.5), 2))
              .put("engine_p99_ms", round(r.engine().quantile(0.99), 2))
              .put("e2e_engine_ratio_p50", round(r.client().quantile(0.5) / Math.max(1e-3, r.engine().quantile(0.5)), 2))
              .put("items_scored", round(r.meanScored(), 0)).put("score_calls", round(r.meanCalls(), 1))
              .put("lost", r.lost()).put("duplicates", r.duplicates())
              .put("sender_lag_p99_ms", round(r.senderLag().quantile(0.99), 1))
              .put("cpu_ms_per_request", round(r.cpuMillisPerRequest(), 2))
              .put("walker_cpu_ms_per_request", round(r.walkerCpuMillisPerRequest(), 2))
              .put("cores_busy", round(r.coresBusy(), 2));
          var byThread = JsonLines.object();
          r.cpuMillisPerRequestByThread().forEach((role, ms) -> byThread.put(role, round(ms, 3)));
          line.set("cpu_ms_per_request_by_thread", byThread);
          var stagesP50 = JsonLines.object();
          r.stages().forEach((st, l) -> stagesP50.put(st, round(l.quantile(0.5), 2)));
          line.set("stages_p50_ms", stagesP50);
          if (breakdown) {
            printBreakdown(rate, r);
          }
          System.out.println(JsonLines.line(line));
          lines.add(JsonLines.line(line));
          curve.add(new ServingCurve.Point(mode, rate, r.client().quantile(0.5), r.client().quantile(0.99)));
          boolean keptUp = r.qps() >= 0.95 * rate && r.clean();
          boolean held = keptUp && r.client().quantile(0.99) <= budgetMs;
          if (r.meanScored() > scored) {
            scored = r.meanScored();
            calls = r.meanCalls();
          }
          if (held && rate > ladder.best()) {   // before the ladder records it: a new highest rate held
            engineCpuAtBest = r.engineCpuMillisPerRequest();
            scoredAtBest = r.meanScored();
            callsAtBest = r.meanCalls();
          }
          boolean stop = !keptUp || r.client().quantile(0.99) > 4 * budgetMs;
          ladder.record(rate, held, stop);
          if (!held) {
            System.err.printf(java.util.Locale.ROOT, "[bench] %.0f req/s missed the budget: %s; best so far %.0f req/s%n",
                rate, !keptUp ? "the job did not keep up" : stop ? "p99 far over budget" : "p99 over budget", ladder.best());
            Thread.sleep(SETTLE_MILLIS);   // let a backlog drain before a lower rate is offered
            rested = true;
          }
        }
        // Kafka's own floor on this machine, with the job warm and idle: every answer crosses two such
        // hops. Timed after the ladder, as the idle seconds it takes would make the next step unsteady.
        dev.nann.local.LatencyStats hop = KafkaHop.measure(stack.kafka, firstRate, (int) Math.ceil(5 * firstRate));
        System.err.printf(java.util.Locale.ROOT, "[bench] one bare Kafka hop (producer, broker, read_committed consumer; "
            + "the job idle): p50 %.2f ms, p99 %.2f ms%n", hop.quantile(0.5), hop.quantile(0.99));
        results.add(new ModeResult(mode, ladder.best(), ladder.steadyBest(), scoredAtBest > 0 ? scoredAtBest : scored,
            scoredAtBest > 0 ? callsAtBest : calls, hop, engineCpuAtBest));
      }
    }
    // again with the stack gone and the compiler quiet; each call size keeps its faster timing
    cost = cost.fastest(measureCeiling(modelDir, runtime, walkers, " again, the stack stopped"), CEILING_SMALL_ROWS, CEILING_FULL_ROWS);
    System.err.printf(java.util.Locale.ROOT, "[bench] scorer ceiling kept (each size's faster): %.1f us a call + %.2f us a row%n",
        cost.nanosPerCall() / 1e3, cost.nanosPerRow() / 1e3);
    for (ModeResult m : results) {
      String summary = summary(m, cost, machine);
      System.out.println(summary);
      lines.add(summary);
    }
    JsonLines.append(load.json, lines);
    if (plot != null && !curve.isEmpty()) {
      curve.write(plot, String.format(java.util.Locale.ROOT, "nann bench serving: %,d items, %s, k = %d, %s", catalog.items,
          modelDir.getFileName(), load.k, load.delivery), budgetMs);
      System.err.println("[bench] wrote " + plot);
    }
    return 0;
  }
}
